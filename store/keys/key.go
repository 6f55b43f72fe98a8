package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Size is the length of a master key in bytes (AES-256).
const Size = 32

// Layout of a sealed value: version, key id, nonce, then the AES-GCM ciphertext and tag.
const (
	version   = 1
	idLen     = 4 // bytes of the key id in a ciphertext; ID() shows them as 8 hex digits
	nonceLen  = 12
	headerLen = 1 + idLen + nonceLen
	tagLen    = 16
)

// ErrCorrupt reports a sealed value that does not authenticate under the key whose id it
// carries: it was altered, truncated, or copied from another row (its AAD differs).
var ErrCorrupt = errors.New("the sealed value is corrupt or belongs to another record")

// MismatchError reports a value sealed under a master key that is not at hand.
type MismatchError struct {
	Sealed string // id of the key that sealed the value
	Have   string // ids of the keys at hand, comma-separated
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("the master key does not match the one they were sealed with (key id %s, have %s)", e.Sealed, e.Have)
}

// entry is one key of a ring. Key holds entries by pointer, so printing a struct that holds
// a Key through reflection (an unexported field) shows an address, never the key bytes.
type entry struct {
	raw  []byte
	id   [idLen]byte
	aead cipher.AEAD
}

// Key is a master key: Seal encrypts with it. A Key may carry more keys (a ring) that Open
// also accepts, picked by the key id each sealed value records; see With and Select.
// The zero Key holds no key. A Key redacts itself wherever it is printed, logged or encoded
// as JSON: only its id shows.
type Key struct {
	ring []*entry // ring[0] seals
}

// FromBytes returns the Key of raw, which must be Size bytes long. It copies raw.
func FromBytes(raw []byte) (Key, error) {
	if len(raw) != Size {
		return Key{}, fmt.Errorf("want %d key bytes, got %d", Size, len(raw))
	}
	e := &entry{raw: append([]byte(nil), raw...)}
	sum := sha256.Sum256(e.raw)
	copy(e.id[:], sum[:idLen])
	block, err := aes.NewCipher(e.raw)
	if err != nil {
		return Key{}, fmt.Errorf("new cipher: %w", err)
	}
	if e.aead, err = cipher.NewGCM(block); err != nil {
		return Key{}, fmt.Errorf("new gcm: %w", err)
	}
	return Key{ring: []*entry{e}}, nil
}

// Generate returns a new random Key from crypto/rand.
func Generate() (Key, error) {
	raw := make([]byte, Size)
	rand.Read(raw) // never fails (crypto/rand.Read crashes the program instead)
	return FromBytes(raw)
}

// Parse returns the Key whose standard base64 encoding is s (surrounding space ignored).
// Its errors never contain s.
func Parse(s string) (Key, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return Key{}, fmt.Errorf("want the standard base64 of %d bytes: %w", Size, err)
	}
	if len(raw) != Size {
		return Key{}, fmt.Errorf("want the standard base64 of %d bytes, got %d bytes", Size, len(raw))
	}
	return FromBytes(raw)
}

// encode returns the standard base64 of the sealing key, as key files hold it.
func (k Key) encode() string { return base64.StdEncoding.EncodeToString(k.ring[0].raw) }

// IsZero reports whether k holds no key.
func (k Key) IsZero() bool { return len(k.ring) == 0 }

// ID returns the id of the key that seals: the first 8 hex digits of the SHA-256 of the key.
// It is not secret; sealed values record it so a mismatch can be named.
func (k Key) ID() string {
	if k.IsZero() {
		return ""
	}
	return hex.EncodeToString(k.ring[0].id[:])
}

// IDs returns the ids of every key of the ring, the sealing one first.
func (k Key) IDs() []string {
	ids := make([]string, len(k.ring))
	for i, e := range k.ring {
		ids[i] = hex.EncodeToString(e.id[:])
	}
	return ids
}

// With returns a Key that seals with k and opens with k and every key of others.
func (k Key) With(others ...Key) Key {
	ring := append([]*entry(nil), k.ring...)
	for _, o := range others {
		for _, e := range o.ring {
			if !hasID(ring, e.id) {
				ring = append(ring, e)
			}
		}
	}
	return Key{ring: ring}
}

// Select returns a Key that seals with the key of the ring whose id is id and still opens with
// the others. It reports false when no key of the ring has that id.
func (k Key) Select(id string) (Key, bool) {
	for i, e := range k.ring {
		if hex.EncodeToString(e.id[:]) == id {
			ring := []*entry{e}
			ring = append(ring, k.ring[:i]...)
			ring = append(ring, k.ring[i+1:]...)
			return Key{ring: ring}, true
		}
	}
	return Key{}, false
}

// Only returns the sealing key of k without the rest of its ring.
func (k Key) Only() Key {
	if k.IsZero() {
		return k
	}
	return Key{ring: k.ring[:1:1]}
}

func hasID(ring []*entry, id [idLen]byte) bool {
	for _, e := range ring {
		if e.id == id {
			return true
		}
	}
	return false
}

// Seal encrypts plaintext with AES-256-GCM under the sealing key. aad binds the result to
// its place (for example "connection:<id>"): Open with another aad fails. The result is a
// version byte, the key id, a random 12-byte nonce, then the ciphertext and tag. Seal panics
// on the zero Key, a programming error.
func (k Key) Seal(plaintext, aad []byte) []byte {
	if k.IsZero() {
		panic("keys: Seal with the zero Key")
	}
	e := k.ring[0]
	out := make([]byte, headerLen, headerLen+len(plaintext)+tagLen)
	out[0] = version
	copy(out[1:], e.id[:])
	rand.Read(out[1+idLen : headerLen])
	return e.aead.Seal(out, out[1+idLen:headerLen], plaintext, additional(out[:1+idLen], aad))
}

// additional authenticates the header (version and key id) along with the caller's aad.
func additional(header, aad []byte) []byte {
	return append(append(make([]byte, 0, len(header)+len(aad)), header...), aad...)
}

// Open decrypts a value Seal made under any key of the ring with the same aad. A value
// sealed under a key not in the ring fails with a *MismatchError; one that does not
// authenticate fails with ErrCorrupt.
func (k Key) Open(sealed, aad []byte) ([]byte, error) {
	id, err := SealedBy(sealed)
	if err != nil {
		return nil, err
	}
	for _, e := range k.ring {
		if hex.EncodeToString(e.id[:]) != id {
			continue
		}
		plain, err := e.aead.Open(nil, sealed[1+idLen:headerLen], sealed[headerLen:], additional(sealed[:1+idLen], aad))
		if err != nil {
			return nil, ErrCorrupt
		}
		return plain, nil
	}
	return nil, &MismatchError{Sealed: id, Have: strings.Join(k.IDs(), ", ")}
}

// SealedBy returns the id of the key that sealed a value, or ErrCorrupt when sealed is not
// a value Seal made.
func SealedBy(sealed []byte) (string, error) {
	if len(sealed) < headerLen+tagLen {
		return "", fmt.Errorf("%w (%d bytes is too short)", ErrCorrupt, len(sealed))
	}
	if sealed[0] != version {
		return "", fmt.Errorf("%w (unknown format version %d)", ErrCorrupt, sealed[0])
	}
	return hex.EncodeToString(sealed[1 : 1+idLen]), nil
}

// String returns a redacted form naming only the key id.
func (k Key) String() string {
	if k.IsZero() {
		return "[no key]"
	}
	return "[redacted key " + k.ID() + "]"
}

// GoString redacts the key for %#v.
func (k Key) GoString() string { return k.String() }

// Format redacts the key for every fmt verb (%x and %d included).
func (k Key) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// LogValue implements slog.LogValuer with the redacted form.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON implements json.Marshaler with the redacted form.
func (k Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }
