package flows

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// App is an integration as its author wrote it: app.yaml and the flow files beside it.
type App struct {
	// Key names the app: letters and digits, unique in a patchbay installation.
	Key string
	// Name is the app's display name.
	Name string
	// Version is the app's version, a positive integer the author raises on each change.
	Version int
	// Description says what the app connects to, in a sentence or two.
	Description string
	// DocsURL links to the provider's API documentation.
	DocsURL string
	// BaseURL is prepended to every call_api path; it may use connection.params.
	BaseURL *Value
	// Connection says how a user connects an account; without it the app needs none (type none).
	Connection *Connection
	// Flows holds the app's flows in the order they were written.
	Flows []*Flow

	Dir   string            // the app's folder
	File  string            // path of app.yaml
	Files map[string][]byte // every file read, by path, for positions
	Pos   Pos
}

// Flow returns the flow called name, or nil.
func (a *App) Flow(name string) *Flow {
	for _, f := range a.Flows {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// FlowNames returns the names of the app's flows in order.
func (a *App) FlowNames() []string {
	out := make([]string, len(a.Flows))
	for i, f := range a.Flows {
		out[i] = f.Name
	}
	return out
}

// Flow kinds.
const (
	KindAction  = "action"  // a public flow an automation runs with inputs
	KindTrigger = "trigger" // a public flow an automation polls for new items
	KindPrivate = "private" // run by the runtime itself (connecting, refreshing, testing)
)

// PrivateFlowNames are the flows the runtime runs for connections; they are private by default.
var PrivateFlowNames = []string{"authorize", "exchange", "refresh", "test", "revoke", "request_token", "access_token", "after_connect"}

// Flow is a sequence of steps with typed inputs and an output.
type Flow struct {
	// Name is the flow's key under flows: letters, digits and underscores.
	Name string
	// Kind is action, trigger or private; flows named as private flows default to private.
	Kind string
	// Description says what the flow does.
	Description string
	// Inputs are the flow's parameters, in the order written.
	Inputs []*Input
	// Steps are run in order; each holds one block (call_api, set, if ...), which the engine compiles.
	Steps []*Step
	// Output is the flow's result, a value with templates; without it, the last step's output.
	Output *yaml.Node
	// Dedupe names the field of each item that identifies it (triggers only).
	Dedupe string

	File string
	Src  []byte
	Pos  Pos
}

// Input returns the input called name, or nil.
func (f *Flow) Input(name string) *Input {
	for _, in := range f.Inputs {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// Input types.
var InputTypes = []string{"string", "number", "integer", "boolean", "object", "array"}

// Input is one parameter of a flow.
type Input struct {
	// Name is the input's key: letters, digits and underscores.
	Name string
	// Type is one of string, number, integer, boolean, object, array (default string).
	Type string
	// Required inputs must be given (or have a default).
	Required bool
	// Default is used when the input is not given.
	Default any
	// Description is shown to whoever fills the input in.
	Description string
	// Label names the input for whoever fills it in (default: its name).
	Label string
	// Sensitive values are redacted wherever a value is shown.
	Sensitive bool
	Pos       Pos
}

// Step is one step of a flow as written; its block stays raw YAML until the engine compiles it.
type Step struct {
	// ID names the step; its output is steps.<id>. Defaults to "<block>@<line>".
	ID string
	// Description is a note for readers.
	Description string
	// When is a condition; a false value skips the step.
	When *yaml.Node
	// Retry says when and how often a failed step is run again.
	Retry *Retry
	// Timeout bounds one attempt of the step (0: only the run's deadline).
	Timeout time.Duration
	// OnError is fail (the default: the run fails) or continue (the step's output is its error).
	OnError string
	// Blocks are the step's keys that are not step fields: exactly one should be a block kind.
	Blocks []Field

	File   string
	Src    []byte
	Pos    Pos
	IDNode *yaml.Node // nil when the id was defaulted
}

// Retry is a step's retry policy.
type Retry struct {
	// MaxAttempts counts the first attempt (default 3).
	MaxAttempts int
	// Backoff is the wait before the second attempt; it doubles each time (default 1s).
	Backoff time.Duration
	// MaxBackoff caps the wait (default 30s).
	MaxBackoff time.Duration
	// Jitter randomizes each wait between half and all of it (default true).
	Jitter bool
	// On lists what is retried: status codes (429), classes (5xx), timeout, network, any
	// (default 429, 5xx, timeout, network).
	On []string
}

// Connection types.
const (
	ConnNone   = "none"
	ConnFields = "fields"
	ConnBasic  = "basic"
	ConnAPIKey = "api_key"
	ConnOAuth2 = "oauth2"
	ConnOAuth1 = "oauth1"
	ConnToken  = "token"
)

// ConnectionTypes lists the connection types.
var ConnectionTypes = []string{ConnNone, ConnFields, ConnBasic, ConnAPIKey, ConnOAuth2, ConnOAuth1, ConnToken}

// Connection says how a user connects an account and how its credentials go on requests.
type Connection struct {
	// Type is none, fields, basic, api_key, oauth2, oauth1 or token.
	Type string
	// Grant is authorization_code (default) or client_credentials, for oauth2.
	Grant string
	// AuthorizeURL is where the user approves access (oauth2 authorization code, oauth1).
	AuthorizeURL *Value
	// TokenURL is the token endpoint (oauth2).
	TokenURL *Value
	// RevokeURL is the token revocation endpoint (oauth2, optional).
	RevokeURL *Value
	// RequestTokenURL is the temporary-credentials endpoint (oauth1).
	RequestTokenURL *Value
	// AccessTokenURL is the token-credentials endpoint (oauth1).
	AccessTokenURL *Value
	// Scopes are requested at authorization.
	Scopes []string
	// ScopeSeparator joins the scopes (default a space).
	ScopeSeparator string
	// PKCE sends an S256 code challenge (default true for authorization_code).
	PKCE *bool
	// ClientAuth is how the client authenticates at the token endpoint: basic (default; id and secret form-encoded, as RFC 6749 says), post (in the form), basic_raw (basic, not encoded) or none (a public client: client_id alone).
	ClientAuth string
	// TokenMethod is the token endpoint's HTTP method: POST (default) or GET.
	TokenMethod string
	// AuthorizeParams are extra query parameters of the authorize URL (access_type: offline).
	AuthorizeParams map[string]*Value
	// TokenParams are extra parameters of the code exchange and of the client credentials token request (audience: https://api.example); templates.
	TokenParams map[string]*Value
	// RefreshParams are extra parameters of the refresh request; templates.
	RefreshParams map[string]*Value
	// TokenBody is how token requests send their parameters: form (default) or json (one JSON object).
	TokenBody string
	// TokenHeaders are headers of every token request (Accept: application/json makes some providers answer JSON); templates.
	TokenHeaders map[string]*Value
	// RefreshURL is where refreshes go when not to token_url.
	RefreshURL *Value
	// RefreshMethod is the refresh request's HTTP method: POST or GET (default token_method).
	RefreshMethod string
	// TokenIn is the dot path of the token answer's object that holds the token when it is not at the top level (authed_user).
	TokenIn string
	// TokenKeep names the token answer's fields kept as connection.extra, each with its dot path (team_id: team.id); without it every top-level field is kept.
	TokenKeep map[string]string
	// TokenErrorIn is the dot path where a token answer holds a provider's error that is not RFC 6749's (error, error.message); present and not empty, it fails the request with the provider's words.
	TokenErrorIn string
	// ClientIDParam is the authorize URL's name for the client id (default client_id).
	ClientIDParam string
	// CodeParam is the callback's query parameter that holds the code (default code).
	CodeParam string
	// ScopeIn is where oauth1 sends the scopes as a scope parameter: authorize_url (default) or
	// request_token_url (signed with the request-token call).
	ScopeIn string
	// Client names the auth client (client id and secret, kept in the vault) the app uses.
	Client string
	// Params are integration parameters the user fills in (a subdomain, a server).
	Params []*Param
	// Fields are the credentials the user enters (fields, basic, api_key, token).
	Fields []*Param
	// Username is the user name basic auth sends: a template over the user's fields, e.g.
	// "{{ connection.fields.api_key }}" (default: the field username).
	Username *Value
	// Password is the password basic auth sends: a template, e.g. "X" (default: the field password).
	Password *Value
	// Inject says how the credential goes on every request.
	Inject *Inject
	// Request holds headers and query parameters sent with every request of the connection.
	Request *RequestDefaults
	// Refresh tunes when tokens are refreshed.
	Refresh *Refresh
	// Label names a connection for its user, e.g. "{{ test.output.email }}".
	Label *Value
	Pos   Pos
}

// Param is a value the user enters when connecting: an integration parameter or a credential field.
type Param struct {
	// Key names the value in templates (connection.params.<key> or connection.fields.<key>).
	Key string
	// Label is the prompt shown to the user.
	Label string
	// Required values must be given.
	Required bool
	// Sensitive values are prompted without echo, encrypted at rest and redacted.
	Sensitive bool
	// Default is used when the user gives nothing.
	Default string
	// Help is one line shown under the input.
	Help string
	// DocsURL links to the provider's page that says where to find the value.
	DocsURL string
	Pos     Pos
}

// Inject says where a credential goes on each request.
type Inject struct {
	// In is header (default) or query.
	In string
	// Name is the header or query parameter name (default Authorization).
	Name string
	// Value is a template over token, e.g. "Bearer {{ token }}" (default "{{ token }}").
	Value *Value
	Pos   Pos
}

// RequestDefaults are sent with every request of a connection.
type RequestDefaults struct {
	// Headers are added unless the step sets the same header.
	Headers map[string]*Value
	// Query parameters are added unless the step sets the same parameter.
	Query map[string]*Value
	// TokenRequests puts the headers on the requests that get tokens too (exchange, refresh, revoke, the oauth2 token requests), which carry no credential: an API key header some providers want on every request, login included.
	TokenRequests bool
}

// Refresh tunes the token lifecycle.
type Refresh struct {
	// BeforeExpiry refreshes a token that expires within it (default 30m, capped at half its lifetime).
	BeforeExpiry time.Duration
	// MinInterval is the least time between two refreshes of one connection (default 1m).
	MinInterval time.Duration
	// OnStatus lists the response statuses that cause a refresh and one retry (default [401]).
	OnStatus []int
	// AssumeLifetime is the lifetime of a token whose response states none (default: none).
	AssumeLifetime time.Duration
}
