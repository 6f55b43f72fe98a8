package flows

// callAPIReference is the reference's section on how call_api builds its URL, and on
// pagination; blocks/call_api_url.go and blocks/paginate.go implement what it says.
const callAPIReference = "### call_api URLs\n\n" +
	"`path` is joined to the app's `base_url` with one slash between them; `url` is used as it is.\n" +
	"A template that gives null or an empty string in the host or the path of `url`, `path` or\n" +
	"`base_url` fails the step, naming the template at its file:line:col, instead of asking for\n" +
	"another URL without a word (`/v3/company/{{ connection.extra.realm }}/query` with no realm):\n\n" +
	"```\n" +
	"app.yaml:12:9: step \"q\" (call_api): app.yaml:14:30: path: template {{ connection.extra.realm }} is null in the URL's path (write optional(...) around it when it may be left out)\n" +
	"```\n\n" +
	"A part that may be empty says so with `optional(...)`: an optional segment that is empty is left\n" +
	"out with its slash, so `/a/{{ optional(x) }}/b` asks for `/a/b` when x is null and `/a/7/b` when\n" +
	"it is 7. After the `?` (the query) an empty value is sent as it is (`?q=`); `query:` leaves a null\n" +
	"parameter out.\n\n"
