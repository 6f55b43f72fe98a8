package flows

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testKeys are the keys the jwt_sign tests sign with, made once per test binary.
var testKeys = sync.OnceValue(func() (k struct {
	rsa   *rsa.PrivateKey
	p256  *ecdsa.PrivateKey
	p384  *ecdsa.PrivateKey
	ed    ed25519.PrivateKey
	edPub ed25519.PublicKey
}) {
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		panic(err)
	}
	if k.edPub, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return k
})

func pemText(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkcs8(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemText("PRIVATE KEY", der)
}

func sec1(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemText("EC PRIVATE KEY", der)
}

// asInJSONFile is a PEM key as a service account's JSON file holds it: line breaks written \n.
func asInJSONFile(t *testing.T, pemKey string) string {
	t.Helper()
	b, err := json.Marshal(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b[1 : len(b)-1])
	if strings.Contains(s, "\n") || !strings.Contains(s, `\n`) {
		t.Fatalf("%q is not written as in a JSON file", s)
	}
	return s
}

// verifyIndependently checks a compact JWS's signature with the standard library alone.
func verifyIndependently(t *testing.T, alg string, pub any, token string) {
	t.Helper()
	i := strings.LastIndexByte(token, '.')
	input, sig64 := token[:i], token[i+1:]
	sig, err := base64.RawURLEncoding.DecodeString(sig64)
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	switch alg {
	case "RS256":
		d := sha256.Sum256([]byte(input))
		err = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig)
	case "RS512":
		d := sha512.Sum512([]byte(input))
		err = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA512, d[:], sig)
	case "PS256":
		d := sha256.Sum256([]byte(input))
		err = rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256", "ES384":
		var d []byte
		if alg == "ES256" {
			s := sha256.Sum256([]byte(input))
			d = s[:]
		} else {
			s := sha512.Sum384([]byte(input))
			d = s[:]
		}
		n := len(sig) / 2 // RFC 7518 section 3.4: R and S, each as long as the curve's order
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(pub.(*ecdsa.PublicKey), d, r, s) {
			err = errString("ecdsa: verification failed")
		}
	case "EdDSA":
		if !ed25519.Verify(pub.(ed25519.PublicKey), []byte(input), sig) {
			err = errString("ed25519: verification failed")
		}
	case "HS256":
		mac := hmac.New(sha256.New, pub.([]byte))
		mac.Write([]byte(input))
		if !hmac.Equal(mac.Sum(nil), sig) {
			err = errString("hmac: verification failed")
		}
	default:
		t.Fatalf("no independent check for %s", alg)
	}
	if err != nil {
		t.Errorf("%s signature does not verify with the public key: %v", alg, err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// segment decodes part i of a compact JWS.
func segment(t *testing.T, token string, i int) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%q has %d parts, want 3", token, len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("part %d of the token: %v", i, err)
	}
	return string(b)
}

// TestJWTSignVerifies signs with keys of every kind and form jwt_sign takes and checks each
// token with the public key twice: through golang-jwt's parser and with the standard library
// directly over header.payload. Header and claims are checked byte for byte: numbers stay
// numbers, and times given for iat and exp become seconds since 1970.
func TestJWTSignVerifies(t *testing.T) {
	k := testKeys()
	rsa1 := pemText("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa))
	rsa8 := pkcs8(t, k.rsa)
	tests := []struct {
		name, alg, key string
		pub            any
	}{
		{"RS256 PKCS#1", "RS256", rsa1, &k.rsa.PublicKey},
		{"RS256 PKCS#8", "RS256", rsa8, &k.rsa.PublicKey},
		{"RS256 PKCS#8 as in a JSON key file", "RS256", asInJSONFile(t, rsa8), &k.rsa.PublicKey},
		{"RS256 PKCS#8 pasted on one line", "RS256", strings.ReplaceAll(strings.TrimSpace(rsa8), "\n", " "), &k.rsa.PublicKey},
		{"RS256 PKCS#1 with CRLF line breaks", "RS256", strings.ReplaceAll(rsa1, "\n", "\r\n"), &k.rsa.PublicKey},
		{"RS512 PKCS#8", "RS512", rsa8, &k.rsa.PublicKey},
		{"PS256 PKCS#1", "PS256", rsa1, &k.rsa.PublicKey},
		{"ES256 SEC1", "ES256", sec1(t, k.p256), &k.p256.PublicKey},
		{"ES256 PKCS#8", "ES256", pkcs8(t, k.p256), &k.p256.PublicKey},
		{"ES256 PKCS#8 as in a JSON key file", "ES256", asInJSONFile(t, pkcs8(t, k.p256)), &k.p256.PublicKey},
		{"ES384 SEC1", "ES384", sec1(t, k.p384), &k.p384.PublicKey},
		{"EdDSA PKCS#8", "EdDSA", pkcs8(t, k.ed), k.edPub},
		{"HS256 shared secret", "HS256", "s3cret-of-32-bytes-or-more......", []byte("s3cret-of-32-bytes-or-more......")},
	}
	iat := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	env := map[string]any{"input": map[string]any{"iat": iat}}
	const expr = `jwt_sign(input.alg, input.key, {iss: "sa@project.iam.example", aud: "https://oauth2.example/token", ` +
		`iat: input.iat, exp: input.iat + duration("1h"), nbf: 1748854800, scope: "a b", n: 3, f: 2.5, ok: true}, {kid: "k-1"})`
	wantClaims := `{"aud":"https://oauth2.example/token","exp":1748858400,"f":2.5,"iat":1748854800,"iss":"sa@project.iam.example","n":3,"nbf":1748854800,"ok":true,"scope":"a b"}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env["input"].(map[string]any)["alg"] = tt.alg
			env["input"].(map[string]any)["key"] = tt.key
			got, err := evalTemplate(t, expr, env)
			if err != nil {
				t.Fatal(err)
			}
			tok := got.(string)
			if h, want := segment(t, tok, 0), `{"alg":"`+tt.alg+`","kid":"k-1","typ":"JWT"}`; h != want {
				t.Errorf("header = %s, want %s", h, want)
			}
			if c := segment(t, tok, 1); c != wantClaims {
				t.Errorf("claims = %s\nwant %s", c, wantClaims)
			}
			verifyIndependently(t, tt.alg, tt.pub, tok)
			parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return tt.pub, nil },
				jwt.WithValidMethods([]string{tt.alg}), jwt.WithAudience("https://oauth2.example/token"),
				jwt.WithIssuer("sa@project.iam.example"), jwt.WithTimeFunc(func() time.Time { return iat.Add(time.Minute) }))
			if err != nil || !parsed.Valid {
				t.Errorf("golang-jwt does not accept the token: %v", err)
			}
			if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return tt.pub, nil },
				jwt.WithTimeFunc(func() time.Time { return iat.Add(61 * time.Minute) })); err == nil {
				t.Error("the token is still accepted after its exp")
			}
		})
	}
}

// TestJWTSignOtherKeyFails: a token does not verify with another key's public key, so the
// independent check above can fail.
func TestJWTSignOtherKeyFails(t *testing.T) {
	k := testKeys()
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]any{"input": map[string]any{"key": sec1(t, k.p256)}}
	got, err := evalTemplate(t, `jwt_sign("ES256", input.key, {sub: "x"})`, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse(got.(string), func(*jwt.Token) (any, error) { return &other.PublicKey, nil }); err == nil {
		t.Error("the token verifies with another key")
	}
	if h := segment(t, got.(string), 0); h != `{"alg":"ES256","typ":"JWT"}` {
		t.Errorf("header without header fields = %s", h)
	}
}

// TestJWTSignErrors pins the error of each bad input, and checks that no error quotes the key.
func TestJWTSignErrors(t *testing.T) {
	k := testKeys()
	rsa8 := pkcs8(t, k.rsa)
	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]any{
		"rsa":       rsa8,
		"p256":      sec1(t, k.p256),
		"p384":      pkcs8(t, k.p384),
		"ed":        pkcs8(t, k.ed),
		"public":    pemText("PUBLIC KEY", pubDER),
		"encrypted": pemText("ENCRYPTED PRIVATE KEY", []byte("not really")),
		"legacyenc": "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
		"cert":      pemText("CERTIFICATE", []byte("x")),
		"openssh":   pemText("OPENSSH PRIVATE KEY", []byte("x")),
		"truncated": rsa8[:strings.LastIndexByte(rsa8[:len(rsa8)/2], '\n')+1] + "-----END PRIVATE KEY-----\n", // whole lines: the base64 decodes
		"garbage":   pemText("PRIVATE KEY", []byte("0123456789")),
		"sec1asrsa": strings.ReplaceAll(sec1(t, k.p256), "EC PRIVATE KEY", "RSA PRIVATE KEY"),
		"raw":       "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC",
	}
	const algs = "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512"
	tests := []struct {
		expr, want string
	}{
		{`jwt_sign("none", input.rsa, {})`, `jwt_sign: unsupported algorithm "none" (want one of ` + algs + ")"},
		{`jwt_sign("rs256", input.rsa, {})`, `jwt_sign: unsupported algorithm "rs256" (want one of ` + algs + ")"},
		{`jwt_sign(input.rsa, "RS256", {})`, "jwt_sign: the first argument is not an algorithm (want one of " + algs + ")"},
		{`jwt_sign("RS256", input.missing, {})`, "jwt_sign: the key (second argument) is empty or not text"},
		{`jwt_sign("RS256", input.rsa, input.list)`, "jwt_sign: the claims (third argument) must be a mapping, not an array"},
		{`jwt_sign("RS256", input.rsa, {}, input.list)`, "jwt_sign: the header fields (fourth argument) must be a mapping, not an array"},
		{`jwt_sign("RS256", input.rsa, {}, {alg: "none"})`, "jwt_sign: the header field alg is the first argument; do not set it in the header"},
		{`jwt_sign("ES256", input.rsa, {})`, "jwt_sign: ES256 needs an EC P-256 key, the key is an RSA key"},
		{`jwt_sign("ES256", input.p384, {})`, "jwt_sign: ES256 needs an EC P-256 key, the key is an EC P-384 key"},
		{`jwt_sign("ES384", input.p256, {})`, "jwt_sign: ES384 needs an EC P-384 key, the key is an EC P-256 key"},
		{`jwt_sign("RS256", input.p256, {})`, "jwt_sign: RS256 needs an RSA key, the key is an EC P-256 key"},
		{`jwt_sign("PS256", input.ed, {})`, "jwt_sign: PS256 needs an RSA key, the key is an Ed25519 key"},
		{`jwt_sign("EdDSA", input.rsa, {})`, "jwt_sign: EdDSA needs an Ed25519 key, the key is an RSA key"},
		{`jwt_sign("RS256", input.public, {})`, "jwt_sign: the key is a public key, not a private key"},
		{`jwt_sign("RS256", input.cert, {})`, "jwt_sign: the key is a certificate, not a private key"},
		{`jwt_sign("RS256", input.encrypted, {})`, "jwt_sign: the key is encrypted with a passphrase; give the unencrypted PEM (openssl pkey -in key.pem)"},
		{`jwt_sign("RS256", input.legacyenc, {})`, "jwt_sign: the key is encrypted with a passphrase; give the unencrypted PEM (openssl pkey -in key.pem)"},
		{`jwt_sign("EdDSA", input.openssh, {})`, `jwt_sign: the key is a PEM "OPENSSH PRIVATE KEY" block, want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY`},
		{`jwt_sign("RS256", input.truncated, {})`, "jwt_sign: the key's PEM PRIVATE KEY block does not hold a valid key of that form"},
		{`jwt_sign("RS256", input.garbage, {})`, "jwt_sign: the key's PEM PRIVATE KEY block does not hold a valid key of that form"},
		{`jwt_sign("ES256", input.sec1asrsa, {})`, "jwt_sign: the key's PEM RSA PRIVATE KEY block does not hold a valid key of that form"},
		{`jwt_sign("RS256", input.raw, {})`, "jwt_sign: the key is not a PEM private key (-----BEGIN PRIVATE KEY----- ...)"},
		{`jwt_sign("RS256", input.rsa, {exp: "tomorrow"})`, `jwt_sign: claim exp must be a time, seconds since 1970 or RFC 3339 text, not "tomorrow"`},
		{`jwt_sign("RS256", input.rsa, {iat: true})`, "jwt_sign: claim iat must be a time or seconds since 1970, not a boolean"},
		{`jwt_sign("RS256", input.rsa, {exp: duration("1h")})`, "jwt_sign: claim exp is a duration; give a time, such as now() + duration('1h')"},
		{`jwt_sign("HS256", "k", {n: 0 / 0})`, "jwt_sign: the claims or the header cannot be written as JSON: json: unsupported value: NaN"},
		{`jwt_sign("HS256", "k", {}, {x: 1 / 0})`, "jwt_sign: the claims or the header cannot be written as JSON: json: unsupported value: +Inf"},
		{`jwt_sign("RS256", input.rsa, {nbf: input.list})`, "jwt_sign: claim nbf must be a time or seconds since 1970, not an array"},
	}
	env := map[string]any{"input": keys}
	keys["list"] = []any{1}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			err := evalError(t, tt.expr, env, tt.want)
			for name, v := range keys {
				s, _ := v.(string)
				for _, line := range strings.Split(s, "\n") {
					if len(line) > 8 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
						t.Errorf("the error quotes the %s key: %s", name, err)
					}
				}
			}
		})
	}
}

// TestJWTSignLoadErrors: a call the checker can see is wrong fails at load.
func TestJWTSignLoadErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`jwt_sign("RS256", "k")`, "t.yaml:1:8: template: not enough arguments to call jwt_sign"},
		{`jwt_sign("RS256", "k", "claims")`, "t.yaml:1:31: template: cannot use string as argument (type map[string]interface {}) to call jwt_sign "},
		{`jwt_sign("RS256", "k", {}, {}, {})`, "t.yaml:1:8: template: too many arguments to call jwt_sign"},
	}
	for _, tt := range tests {
		_, errs := compileValue(t, "v: '{{ "+tt.expr+" }}'\n")
		if errs.Err() == nil || errs.Err().Error() != tt.want {
			t.Errorf("%s: load error %v, want %s", tt.expr, errs.Err(), tt.want)
		}
	}
}
