package flows

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwtAlgs are the algorithms jwt_sign signs with, in the order the docs and errors list them.
var jwtAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"}

// jwtTimeClaims are the claims that are NumericDates (RFC 7519 section 2): a time given for one
// becomes seconds since 1970.
var jwtTimeClaims = []string{"exp", "nbf", "iat"}

// algName is what an algorithm name looks like; anything else given as one is not quoted in an
// error, since it may be the key passed in the wrong place.
var algName = regexp.MustCompile(`^[A-Za-z0-9]{1,10}$`)

// jwtSign is jwt_sign(alg, key, claims[, header]): a compact JWS (RFC 7515) over the claims,
// signed by github.com/golang-jwt/jwt/v5. key is a PEM private key for RS*, PS*, ES* and EdDSA
// and the shared secret for HS*. No error quotes the key or a value derived from it.
func jwtSign(args ...any) (any, error) {
	if len(args) != 3 && len(args) != 4 {
		return nil, fmt.Errorf("jwt_sign takes an algorithm, a key, the claims and optionally header fields")
	}
	alg, ok := args[0].(string)
	if !ok || !slices.Contains(jwtAlgs, alg) {
		if ok && algName.MatchString(alg) {
			return nil, fmt.Errorf("jwt_sign: unsupported algorithm %q (want one of %s)", alg, strings.Join(jwtAlgs, ", "))
		}
		return nil, fmt.Errorf("jwt_sign: the first argument is not an algorithm (want one of %s)", strings.Join(jwtAlgs, ", "))
	}
	keyText, ok := args[1].(string)
	if !ok || keyText == "" {
		return nil, fmt.Errorf("jwt_sign: the key (second argument) is empty or not text")
	}
	claims, ok := args[2].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("jwt_sign: the claims (third argument) must be a mapping, not %s", typeName(args[2]))
	}
	key, err := jwtKey(alg, keyText)
	if err != nil {
		return nil, fmt.Errorf("jwt_sign: %w", err)
	}
	mc, err := jwtClaims(claims)
	if err != nil {
		return nil, fmt.Errorf("jwt_sign: %w", err)
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), mc)
	if len(args) == 4 && args[3] != nil {
		header, ok := args[3].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("jwt_sign: the header fields (fourth argument) must be a mapping, not %s", typeName(args[3]))
		}
		for k, v := range header {
			if k == "alg" {
				return nil, fmt.Errorf("jwt_sign: the header field alg is the first argument; do not set it in the header")
			}
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	var unsupported *json.UnsupportedValueError
	var unsupportedType *json.UnsupportedTypeError
	switch {
	case errors.As(err, &unsupported) || errors.As(err, &unsupportedType):
		// The claims or the header (never the key) hold a value JSON cannot write: NaN, a function.
		return nil, fmt.Errorf("jwt_sign: the claims or the header cannot be written as JSON: %w", err)
	case err != nil:
		// The library's errors name the key's type at most; keep them out all the same.
		return nil, fmt.Errorf("jwt_sign: signing with %s failed", alg)
	}
	return s, nil
}

// jwtClaims copies the claims, turning a time given for exp, nbf or iat into seconds since 1970.
func jwtClaims(in map[string]any) (jwt.MapClaims, error) {
	out := make(jwt.MapClaims, len(in))
	for k, v := range in {
		out[k] = v
	}
	for _, k := range jwtTimeClaims {
		v, ok := in[k]
		if !ok {
			continue
		}
		switch t := v.(type) {
		case time.Time:
			out[k] = t.Unix()
		case int, int64:
		case float64:
			if math.IsNaN(t) || math.IsInf(t, 0) {
				return nil, fmt.Errorf("claim %s must be a time or seconds since 1970, not %v", k, t)
			}
			if t == math.Trunc(t) {
				out[k] = int64(t)
			}
		case time.Duration:
			return nil, fmt.Errorf("claim %s is a duration; give a time, such as now() + duration('1h')", k)
		case string:
			p, err := time.Parse(time.RFC3339, t)
			if err != nil {
				return nil, fmt.Errorf("claim %s must be a time, seconds since 1970 or RFC 3339 text, not %q", k, t)
			}
			out[k] = p.Unix()
		default:
			return nil, fmt.Errorf("claim %s must be a time or seconds since 1970, not %s", k, typeName(v))
		}
	}
	return out, nil
}

// errEncryptedKey is returned for a PEM key protected by a passphrase.
var errEncryptedKey = errors.New("the key is encrypted with a passphrase; give the unencrypted PEM (openssl pkey -in key.pem)")

// jwtKey returns the signing key for alg from text: the secret itself for HS*, else the private
// key of a PEM block, checked against alg.
func jwtKey(alg, text string) (any, error) {
	if strings.HasPrefix(alg, "HS") {
		return []byte(text), nil
	}
	block, err := pemBlock(text)
	if err != nil {
		return nil, err
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errEncryptedKey
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("the key is a %s, not a private key", strings.ToLower(block.Type))
	default:
		return nil, fmt.Errorf("the key is a PEM %q block, want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", block.Type)
	}
	if err != nil {
		// x509's errors describe the DER structure; none of them is needed to fix a wrong paste.
		return nil, fmt.Errorf("the key's PEM %s block does not hold a valid key of that form", block.Type)
	}
	return checkKey(alg, key)
}

// pemBlock decodes the first PEM block of text. The text may come with its line breaks written
// as the two characters \n (a key copied out of a JSON file, such as a cloud provider's
// service account file) or replaced by spaces (a key pasted on one line).
func pemBlock(text string) (*pem.Block, error) {
	text = strings.ReplaceAll(strings.TrimSpace(text), `\n`, "\n")
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		block = pemOneLine(text)
	}
	if block == nil {
		return nil, fmt.Errorf("the key is not a PEM private key (-----BEGIN PRIVATE KEY----- ...)")
	}
	if _, ok := block.Headers["Proc-Type"]; ok {
		return nil, errEncryptedKey
	}
	return block, nil
}

// pemOneLine decodes a PEM block whose line breaks are spaces, or nil.
func pemOneLine(text string) *pem.Block {
	const begin, dashes = "-----BEGIN ", "-----"
	i := strings.Index(text, begin)
	if i < 0 {
		return nil
	}
	rest := text[i+len(begin):]
	j := strings.Index(rest, dashes)
	if j < 0 {
		return nil
	}
	typ, body := rest[:j], rest[j+len(dashes):]
	end := "-----END " + typ + dashes
	k := strings.Index(body, end)
	if k < 0 {
		return nil
	}
	fixed := begin + typ + dashes + "\n" + strings.Join(strings.Fields(body[:k]), "\n") + "\n" + end + "\n"
	block, _ := pem.Decode([]byte(fixed))
	return block
}

// checkKey returns key when alg signs with it, and else says what the key is and what alg needs.
func checkKey(alg string, key any) (any, error) {
	var have string
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg[:2] == "RS" || alg[:2] == "PS" {
			return k, nil
		}
		have = "an RSA key"
	case *ecdsa.PrivateKey:
		want := map[string]string{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
		curve := k.Curve.Params().Name
		if want == curve {
			return k, nil
		}
		have = "an EC " + curve + " key"
	case ed25519.PrivateKey:
		if alg == "EdDSA" {
			return k, nil
		}
		have = "an Ed25519 key"
	default:
		have = fmt.Sprintf("a %T key", key)
	}
	return nil, fmt.Errorf("%s needs %s, the key is %s", alg, keyNeeded(alg), have)
}

// keyNeeded names the key alg signs with.
func keyNeeded(alg string) string {
	switch alg {
	case "ES256":
		return "an EC P-256 key"
	case "ES384":
		return "an EC P-384 key"
	case "ES512":
		return "an EC P-521 key"
	case "EdDSA":
		return "an Ed25519 key"
	}
	return "an RSA key"
}
