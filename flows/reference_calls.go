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
	"it is 7; an empty optional host label goes with its dot, so\n" +
	"`https://{{ optional(connection.params.region) }}.api.example.com` is `https://api.example.com`\n" +
	"without a region. After the `?` (the query) an empty value is sent as it is (`?q=`); `query:`\n" +
	"leaves a null parameter out.\n\n"

// paginateReference documents call_api's paginate (blocks/paginate.go, paginate_compile.go).
const paginateReference = "### Pagination\n\n" +
	"`paginate:` under `call_api` sends the request again for each next page and outputs\n" +
	"`{items, pages}`: the items of every page as one list, and how many pages were read. Every page\n" +
	"goes the way one call_api request goes: with the connection's credentials (at the first page's\n" +
	"origin only), sent once more after a 401 the connection refreshed, held to the response size\n" +
	"limit, failing the step on a status `accept` does not list. The items gathered count against the\n" +
	"run's iteration and output limits. A step's `retry` starts the walk again from the first page.\n\n" +
	"Its keys are the `paginate.` rows of [call_api](#call_api)'s table. The value a strategy\n" +
	"(`link`, `cursor`, `offset` or `page_number`) sets replaces a query parameter (or body field)\n" +
	"of the same name. A next page at\n" +
	"another origin than the first (a `Link` to another host) is sent without the connection's\n" +
	"credentials and without the step's headers that hold a secret, as a redirect there would be.\n\n" +
	"A `Link` header, as GitHub sends it (`<https://api.github.com/user/repos?per_page=100&page=2>; rel=\"next\"`):\n\n" +
	"```yaml\n" +
	"- id: repos\n" +
	"  call_api:\n" +
	"    path: /user/repos\n" +
	"    query: {per_page: 100}\n" +
	"    paginate: {items: \"{{ response.body }}\", link: next, max_pages: 50}\n" +
	"```\n\n" +
	"A cursor in the body, as Stripe's lists (`has_more`, and the last item's id as `starting_after`):\n\n" +
	"```yaml\n" +
	"- id: customers\n" +
	"  call_api:\n" +
	"    path: /v1/customers\n" +
	"    query: {limit: 100}\n" +
	"    paginate:\n" +
	"      items: \"{{ response.body.data }}\"\n" +
	"      cursor: {value: \"{{ response.body.data[-1].id }}\", param: starting_after}\n" +
	"      stop_when: \"{{ !response.body.has_more }}\"\n" +
	"```\n\n" +
	"A cursor in a JSON body, as Notion's queries (`next_cursor` back, `start_cursor` out):\n\n" +
	"```yaml\n" +
	"- id: pages\n" +
	"  call_api:\n" +
	"    method: POST\n" +
	"    path: \"/v1/databases/{{ input.database }}/query\"\n" +
	"    json: {page_size: 100}\n" +
	"    paginate:\n" +
	"      items: \"{{ response.body.results }}\"\n" +
	"      cursor: {value: \"{{ response.body.next_cursor }}\", field: start_cursor}\n" +
	"```\n\n" +
	"An offset and a page size (`?offset=0&limit=50`, then `offset=50` ...):\n\n" +
	"```yaml\n" +
	"- id: contacts\n" +
	"  call_api:\n" +
	"    path: /contacts\n" +
	"    paginate:\n" +
	"      items: \"{{ response.body.contacts }}\"\n" +
	"      offset: {param: offset, limit: 50, limit_param: limit}\n" +
	"```\n\n" +
	"A page number with the number of pages in the body (`?page=1`, `2` ... up to `total_pages`):\n\n" +
	"```yaml\n" +
	"- id: tickets\n" +
	"  call_api:\n" +
	"    path: /tickets\n" +
	"    query: {per_page: 100}\n" +
	"    paginate:\n" +
	"      items: \"{{ response.body.tickets }}\"\n" +
	"      page_number: {param: page, total_pages: \"{{ response.body.total_pages }}\"}\n" +
	"```\n\n" +
	"The step's output is `{items: [...], pages: 3}`: `steps.repos.items` is the whole list.\n\n"
