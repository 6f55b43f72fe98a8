package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// fixedKey returns the Key of 32 bytes of b.
func fixedKey(t *testing.T, b byte) (Key, []byte) {
	t.Helper()
	raw := bytes.Repeat([]byte{b}, Size)
	k, err := FromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k, raw
}

func TestID(t *testing.T) {
	k, _ := fixedKey(t, 1)
	// sha256 of 32 bytes of 0x01 starts with 72cd6e84.
	if got, want := k.ID(), "72cd6e84"; got != want {
		t.Errorf("ID() = %q, want %q", got, want)
	}
}

func TestSealOpen(t *testing.T) {
	k1, _ := fixedKey(t, 1)
	k2, _ := fixedKey(t, 2)
	aad := []byte("connection:abc")
	plain := []byte("hunter2")
	sealed := k1.Seal(plain, aad)
	if bytes.Contains(sealed, plain) {
		t.Fatalf("sealed value holds the plaintext")
	}
	if again := k1.Seal(plain, aad); bytes.Equal(again, sealed) {
		t.Fatalf("two seals of one value are equal: the nonce is not random")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	otherVersion := bytes.Clone(sealed)
	otherVersion[0] = 9
	otherID := bytes.Clone(sealed)
	otherID[1] ^= 1 // claims another key id: fails as a mismatch, never opens

	tests := []struct {
		name    string
		key     Key
		sealed  []byte
		aad     string
		wantErr string
	}{
		{"same key and aad", k1, sealed, "connection:abc", ""},
		{"ring holding the key", k2.With(k1), sealed, "connection:abc", ""},
		{"other aad", k1, sealed, "connection:abd", "the sealed value is corrupt or belongs to another record"},
		{"tampered", k1, tampered, "connection:abc", "the sealed value is corrupt or belongs to another record"},
		{"other key", k2, sealed, "connection:abc", "the master key does not match the one they were sealed with (key id 72cd6e84, have " + k2.ID() + ")"},
		{"altered key id", k1, otherID, "connection:abc", "the master key does not match the one they were sealed with (key id 73cd6e84, have 72cd6e84)"},
		{"unknown version", k1, otherVersion, "connection:abc", "the sealed value is corrupt or belongs to another record (unknown format version 9)"},
		{"too short", k1, sealed[:20], "connection:abc", "the sealed value is corrupt or belongs to another record (20 bytes is too short)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.key.Open(tt.sealed, []byte(tt.aad))
			if tt.wantErr == "" {
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("Open = %q, %v; want %q", got, err, plain)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Open error = %v, want %q", err, tt.wantErr)
			}
			if got != nil {
				t.Errorf("Open returned %q with its error", got)
			}
		})
	}
}

func TestOpenErrorKinds(t *testing.T) {
	k1, _ := fixedKey(t, 1)
	k2, _ := fixedKey(t, 2)
	sealed := k1.Seal([]byte("x"), nil)
	_, err := k2.Open(sealed, nil)
	var me *MismatchError
	if !errors.As(err, &me) || me.Sealed != k1.ID() || me.Have != k2.ID() {
		t.Errorf("Open with another key: %v, want a *MismatchError{%s, %s}", err, k1.ID(), k2.ID())
	}
	if _, err := k1.Open(sealed, []byte("x")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open with another aad: %v, want ErrCorrupt", err)
	}
}

func TestRing(t *testing.T) {
	k1, _ := fixedKey(t, 1)
	k2, _ := fixedKey(t, 2)
	ring := k1.With(k2, k1)
	if got, want := strings.Join(ring.IDs(), ","), k1.ID()+","+k2.ID(); got != want {
		t.Errorf("IDs() = %s, want %s", got, want)
	}
	sel, ok := ring.Select(k2.ID())
	if !ok || sel.ID() != k2.ID() || len(sel.IDs()) != 2 {
		t.Fatalf("Select(%s) = %v (%v), %v", k2.ID(), sel, sel.IDs(), ok)
	}
	if _, err := k2.Open(sel.Seal([]byte("x"), nil), nil); err != nil {
		t.Errorf("a value sealed by the selected key does not open under it: %v", err)
	}
	if _, ok := ring.Select("00000000"); ok {
		t.Errorf("Select of an unknown id reported true")
	}
	if only := sel.Only(); len(only.IDs()) != 1 || only.ID() != k2.ID() {
		t.Errorf("Only() = %v", only.IDs())
	}
}

func TestParse(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, Size)
	tests := []struct {
		in, wantErr string
	}{
		{base64.StdEncoding.EncodeToString(raw), ""},
		{" " + base64.StdEncoding.EncodeToString(raw) + "\n", ""},
		{base64.StdEncoding.EncodeToString(raw[:16]), "want the standard base64 of 32 bytes, got 16 bytes"},
		{"not base64!", "want the standard base64 of 32 bytes: illegal base64 data at input byte 3"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if got := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && got != tt.wantErr) {
			t.Errorf("Parse(%q) error = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

// TestRedaction prints a Key every way a program might and checks that neither its bytes
// nor their base64 or hex appear.
func TestRedaction(t *testing.T) {
	k, raw := fixedKey(t, 0xab)
	leaks := []string{string(raw), base64.StdEncoding.EncodeToString(raw), hex.EncodeToString(raw), fmt.Sprint(raw), "171 171 171"}
	type holder struct {
		Key   Key
		inner Key
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "key", k, "holder", holder{k, k})
	js, err := json.Marshal(holder{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	outs := map[string]string{
		"%v": fmt.Sprintf("%v", k), "%s": fmt.Sprintf("%s", k), "%+v": fmt.Sprintf("%+v", holder{k, k}),
		"%#v": fmt.Sprintf("%#v", holder{k, k}), "%x": fmt.Sprintf("%x", k), "%d": fmt.Sprintf("%d", k),
		"%q": fmt.Sprintf("%q", k), "slog": logged.String(), "json": string(js),
	}
	for how, out := range outs {
		for _, leak := range leaks {
			if strings.Contains(out, leak) {
				t.Errorf("%s prints the key: %s", how, out)
			}
		}
	}
	if got, want := k.String(), "[redacted key "+k.ID()+"]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := string(js), `{"Key":"[redacted key `+k.ID()+`]"}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	if got := (Key{}).String(); got != "[no key]" {
		t.Errorf("zero Key String() = %q", got)
	}
}
