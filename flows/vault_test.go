package flows

import (
	"context"
	"reflect"
	"testing"
)

// TestVaultMissingSecret: vault.NAME of a secret the vault has not was null, silently; it now
// fails the evaluation at the name's position. vault?.NAME stays null, and the other ways of
// looking at the vault are as before.
func TestVaultMissingSecret(t *testing.T) {
	env := map[string]any{"vault": map[string]any{"key": "k-1", "nested": map[string]any{"a": 1}}}
	tests := []struct {
		name, src string
		env       map[string]any
		want      any
		wantErr   string
	}{
		{name: "present", src: `v: "{{ vault.key }}"`, want: "k-1"},
		{name: "present, in text", src: `v: "Bearer {{ vault.key }}"`, want: "Bearer k-1"},
		{name: "present, by index", src: `v: "{{ vault['key'] }}"`, want: "k-1"},
		{name: "nested", src: `v: "{{ vault.nested.a }}"`, want: 1},
		{name: "optional", src: `v: "{{ vault?.nope ?? 'none' }}"`, want: "none"},
		{name: "in", src: `v: "{{ 'nope' in vault }}"`, want: false},
		{name: "missing", src: `v: "{{ vault.nope }}"`,
			wantErr: `t.yaml:1:14: template {{ vault.nope }}: the vault has no secret "nope"`},
		{name: "missing, in text", src: "v: \"x-{{ vault.key }}-{{ vault.other }}\"",
			wantErr: `t.yaml:1:32: template {{ vault.other }}: the vault has no secret "other"`},
		{name: "missing, by index", src: `v: "{{ vault['nope'] }}"`,
			wantErr: `t.yaml:1:14: template {{ vault['nope'] }}: the vault has no secret "nope"`},
		{name: "no vault at all", src: `v: "{{ vault.key }}"`, env: map[string]any{},
			wantErr: `t.yaml:1:14: template {{ vault.key }}: the vault has no secret "key"`},
		{name: "a name that is not text", src: `v: "{{ vault[1] }}"`,
			wantErr: `t.yaml:1:14: template {{ vault[1] }}: a vault secret's name is text, found int`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, errs := compileValue(t, tt.src)
			if len(errs) > 0 {
				t.Fatalf("Compile(%q): %v", tt.src, errs)
			}
			e := env
			if tt.env != nil {
				e = tt.env
			}
			got, err := NewEvaluator(context.Background()).Eval(v, e)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("Eval(%q) = %v, %v; want error %s", tt.src, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Eval(%q) = %v, %v; want %v", tt.src, got, err, tt.want)
			}
		})
	}
}
