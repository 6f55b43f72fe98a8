package connections_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/patchbay/patchbay/connections"
)

// The service account the jwt-bearer tests connect, shaped as a Google JSON key file's fields.
const (
	saEmail   = "reader@demo-project.iam.gserviceaccount.com"
	saKeyID   = "3f1c2e0d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e"
	saProject = "demo-project"
	saScope   = "https://www.googleapis.com/auth/devstorage.read_only"
)

// saProvider is a token endpoint that takes only an RFC 7523 jwt-bearer grant whose assertion
// verifies with the account's public key and has the right kid, iss, aud, scope, iat and exp
// (Google's rules: exp at most an hour after iat), and a Cloud Storage API that takes only the
// newest token it issued.
type saProvider struct {
	srv *httptest.Server
	pub *rsa.PublicKey

	mu       sync.Mutex
	issued   []string // access tokens, newest last
	asserted []string // the assertions it was given
	revoked  bool     // the API refuses the newest token once
	bad      []string // assertions the token endpoint refused, and why
	requests []string // "token", "GET /storage/v1/b 200", ...
}

func newSAProvider(t *testing.T, pub *rsa.PublicKey) *saProvider {
	t.Helper()
	p := &saProvider{pub: pub}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /storage/v1/b", p.api)
	mux.HandleFunc("GET /storage/v1/b/{bucket}/o", p.api)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// token checks the grant as Google's token endpoint does and answers an access token, or
// invalid_grant with the reason.
func (p *saProvider) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = append(p.requests, "token")
	refuse := func(reason string) {
		p.bad = append(p.bad, reason)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":%q}`, reason)
	}
	if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		refuse("not a form")
		return
	}
	if len(r.PostForm) != 2 || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		refuse(fmt.Sprintf("want grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and assertion, got %v", r.PostForm))
		return
	}
	p.asserted = append(p.asserted, r.PostForm.Get("assertion"))
	tok, err := jwt.Parse(r.PostForm.Get("assertion"), func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != saKeyID {
			return nil, fmt.Errorf("kid %v, want %s", tok.Header["kid"], saKeyID)
		}
		return p.pub, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(saEmail), jwt.WithAudience(p.srv.URL+"/token"),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(time.Minute))
	if err != nil {
		refuse("Invalid JWT: " + err.Error())
		return
	}
	c := tok.Claims.(jwt.MapClaims)
	iat, _ := c.GetIssuedAt()
	exp, _ := c.GetExpirationTime()
	if iat == nil || exp.Sub(iat.Time) != time.Hour || c["scope"] != saScope || len(c) != 5 {
		refuse(fmt.Sprintf("claims %v: want iss, scope, aud, iat and exp an hour after iat", c))
		return
	}
	at := fmt.Sprintf("ya29.token-%d", len(p.issued)+1)
	p.issued = append(p.issued, at)
	p.revoked = false
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":3599,"token_type":"Bearer"}`, at)
}

// api answers the bucket and object lists for the newest token.
func (p *saProvider) api(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	status := http.StatusOK
	if len(p.issued) == 0 || p.revoked || r.Header.Get("Authorization") != "Bearer "+p.issued[len(p.issued)-1] {
		status = http.StatusUnauthorized
	}
	p.requests = append(p.requests, fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, status))
	w.Header().Set("Content-Type", "application/json")
	if status != http.StatusOK {
		w.WriteHeader(status)
		fmt.Fprint(w, `{"error":{"code":401,"message":"Invalid Credentials"}}`)
		return
	}
	if b := r.PathValue("bucket"); b != "" {
		fmt.Fprintf(w, `{"kind":"storage#objects","items":[{"name":%q,"bucket":%q,"size":"12"}]}`, r.URL.Query().Get("prefix")+"report.csv", b)
		return
	}
	if r.URL.Query().Get("project") != saProject {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"code":400,"message":"Invalid project"}}`)
		return
	}
	fmt.Fprint(w, `{"kind":"storage#buckets","items":[{"name":"demo-exports","location":"EU"}]}`)
}

func (p *saProvider) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

// saKeyFile returns an RSA key and its PEM as a JSON key file holds it (line breaks as \n).
func saKeyFile(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	return key, strings.Trim(string(js), `"`)
}

// saEnv is the example app examples/service-account, its Cloud Storage URL pointed at a
// saProvider, and a manager on a SQLite store in t.TempDir() that logs to logs.
type saEnv struct {
	p      *saProvider
	m      *connections.Manager
	logs   *lockedBuffer
	dbPath string
}

func newSAEnv(t *testing.T, pub *rsa.PublicKey) *saEnv {
	t.Helper()
	e := &saEnv{p: newSAProvider(t, pub), logs: &lockedBuffer{}}
	st, path := openStore(t)
	e.dbPath = path
	e.m = newManagerConfig(t, nil, connections.Config{Store: st,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	return e
}

func (e *saEnv) request(privateKey string) connections.ConnectRequest {
	return connections.ConnectRequest{
		Name:   "exports",
		Params: map[string]string{"project_id": saProject, "token_uri": e.p.srv.URL + "/token"},
		Fields: map[string]string{"client_email": saEmail, "private_key_id": saKeyID, "private_key": privateKey},
	}
}

// TestServiceAccountJWTBearer connects examples/service-account with a key pasted from a JSON
// key file: exchange signs a JWT with jwt_sign, the token endpoint verifies it with the public
// key (kid, iss, aud, scope, iat, exp) and answers an access token, and the flows run with it.
// When the API refuses the token, a new JWT is signed with the stored key and traded again. No
// log line, trace or store file shows the key or an assertion.
func TestServiceAccountJWTBearer(t *testing.T) {
	key, keyText := saKeyFile(t)
	e := newSAEnv(t, &key.PublicKey)
	src, err := os.ReadFile("../examples/service-account/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prog := loadApp(t, strings.ReplaceAll(string(src), "https://storage.googleapis.com", e.p.srv.URL))
	ctx := context.Background()

	rec, err := e.m.Connect(ctx, prog, e.request(keyText))
	if err != nil {
		t.Fatalf("Connect: %v (the token endpoint refused %q)", err, e.p.bad)
	}
	if rec.Type != "token" || rec.Label != saEmail || rec.Creds.Token == nil || rec.Creds.Token.AccessToken.Reveal() != "ya29.token-1" {
		t.Fatalf("connected %s %q with token %+v; want a token connection labelled %s with ya29.token-1", rec.Type, rec.Label, rec.Creds.Token, saEmail)
	}
	if ttl := time.Until(rec.Creds.Token.Expiry); ttl < 58*time.Minute || ttl > time.Hour {
		t.Errorf("the token expires in %v, want the 3599 seconds the provider said", ttl)
	}

	res, err := runFlow(ctx, e.m, prog, reload(t, e.m, rec), "buckets", nil)
	if err != nil {
		t.Fatalf("run buckets: %v", err)
	}
	if want := []any{map[string]any{"name": "demo-exports", "location": "EU"}}; !reflect.DeepEqual(res.Output, want) {
		t.Errorf("buckets = %v, want %v", res.Output, want)
	}

	e.p.mu.Lock()
	e.p.revoked = true
	e.p.mu.Unlock()
	res, err = runFlow(ctx, e.m, prog, reload(t, e.m, rec), "objects", map[string]any{"bucket": "demo-exports", "prefix": "2025/"})
	if err != nil {
		t.Fatalf("run objects after the token was revoked: %v", err)
	}
	if want := []any{map[string]any{"name": "2025/report.csv", "bucket": "demo-exports", "size": "12"}}; !reflect.DeepEqual(res.Output, want) {
		t.Errorf("objects = %v, want %v", res.Output, want)
	}
	want := []string{"token", "GET /storage/v1/b 200", "GET /storage/v1/b 200", "GET /storage/v1/b/demo-exports/o 401", "token", "GET /storage/v1/b/demo-exports/o 200"}
	if got := e.p.log(); !reflect.DeepEqual(got, want) {
		t.Errorf("the provider saw %q, want %q", got, want)
	}
	if len(e.p.bad) != 0 {
		t.Errorf("the token endpoint refused %q", e.p.bad)
	}

	trace, _ := json.Marshal(res.Trace)
	store, _ := os.ReadFile(e.dbPath)
	for what, text := range map[string]string{"the log": e.logs.String(), "the trace": string(trace), "the store file": string(store)} {
		noKey(t, what, text, keyText)
		for _, a := range e.p.asserted {
			if strings.Contains(text, a) {
				t.Errorf("%s shows a signed assertion", what)
			}
		}
	}
}

// TestServiceAccountBadKey: a key the provider does not know is refused at its token endpoint,
// and a key of the wrong type fails in jwt_sign before any request; neither is stored, and no
// error quotes the key.
func TestServiceAccountBadKey(t *testing.T) {
	key, _ := saKeyFile(t)
	_, otherText := saKeyFile(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecText := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	src, err := os.ReadFile("../examples/service-account/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key, want string
		requests        []string
	}{
		{"another account's key", otherText, `: 400 Bad Request: {"error":"invalid_grant","error_description":"Invalid JWT: token signature is invalid: crypto/rsa: verification error"}`, []string{"token"}},
		{"an EC key", ecText, `app.yaml:57:43: template {{ let t = now(); jwt_sign('RS256', connection.fields.private_key, { iss: connectio… }}: jwt_sign: RS256 needs an RSA key, the key is an EC P-256 key`, nil},
		{"not a key", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC", `app.yaml:57:43: template {{ let t = now(); jwt_sign('RS256', connection.fields.private_key, { iss: connectio… }}: jwt_sign: the key is not a PEM private key (-----BEGIN PRIVATE KEY----- ...)`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSAEnv(t, &key.PublicKey)
			prog := loadApp(t, strings.ReplaceAll(string(src), "https://storage.googleapis.com", e.p.srv.URL))
			_, err := e.m.Connect(context.Background(), prog, e.request(tt.key))
			if err == nil || !strings.Contains(err.Error(), `: step "token" (call_api): `) || !strings.HasSuffix(err.Error(), tt.want) {
				t.Fatalf("Connect = %v, want an error ending in %s", err, tt.want)
			}
			if got := e.p.log(); !reflect.DeepEqual(got, tt.requests) {
				t.Errorf("the provider saw %q, want %q", got, tt.requests)
			}
			if _, err := e.m.Store().Connection(context.Background(), connections.DefaultWorkspace, "exports"); err == nil {
				t.Error("a connection was stored")
			}
			noKey(t, "the error", err.Error(), tt.key)
			noKey(t, "the log", e.logs.String(), tt.key)
		})
	}
}

// noKey fails when text shows a line of the key's base64, as pasted (with \n) or decoded.
func noKey(t *testing.T, what, text, keyText string) {
	t.Helper()
	for _, line := range strings.Split(strings.ReplaceAll(keyText, `\n`, "\n"), "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line) {
			t.Errorf("%s shows the private key: %q", what, line)
		}
	}
	if strings.Contains(text, url.QueryEscape(keyText)) {
		t.Errorf("%s shows the private key, URL-encoded", what)
	}
}
