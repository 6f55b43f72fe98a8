package flows

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
)

// vaultName is the function a read of the vault becomes. It is not an expr identifier, so
// templates cannot name it.
const vaultName = "patchbay vault"

// vaultOptions make vault.NAME and vault["NAME"] fail the evaluation when the vault has no
// secret NAME, rather than be null: a template that sends a secret the vault lacks would send
// nothing, and the run would go on as if it had. vault?.NAME is null then, for a template
// that can do without.
var vaultOptions = []expr.Option{
	expr.Patch(vaultPatch{}),
	func(c *conf.Config) {
		c.Functions[vaultName] = &builtin.Function{Name: vaultName, Func: vaultEntry}
	},
}

// vaultPatch turns vault.NAME into a call of vaultName with the vault and NAME.
type vaultPatch struct{}

func (vaultPatch) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return
	}
	if id, ok := m.Node.(*ast.IdentifierNode); !ok || id.Value != "vault" {
		return
	}
	call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: vaultName}, Arguments: []ast.Node{m.Node, m.Property}}
	ast.Patch(node, call)
	call.SetLocation(m.Property.Location()) // an error names the secret's place
}

// vaultEntry returns the secret args[1] of the vault args[0], or an error naming it.
func vaultEntry(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("invalid number of arguments (expected 2, got %d)", len(args))
	}
	name, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("a vault secret's name is text, found %T", args[1])
	}
	vault, _ := args[0].(map[string]any) // nil: a run given no vault
	v, ok := vault[name]
	if !ok {
		return nil, fmt.Errorf("the vault has no secret %q", name)
	}
	return v, nil
}
