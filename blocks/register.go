// Package blocks implements patchbay's core blocks. Register adds them all to a registry.
package blocks

import "github.com/patchbay/patchbay/engine"

// Types lists the core block types.
func Types() []engine.BlockType {
	return []engine.BlockType{
		SetType,
		CallAPIType,
		IfType,
		SwitchType,
		ForeachType,
		CallFlowType,
		ReturnType,
		FailType,
		LogType,
		WaitType,
		OAuth2AuthorizeURLType,
		OAuth2TokenType,
	}
}

// Register adds every core block type to reg.
func Register(reg *engine.Registry) error {
	for _, t := range Types() {
		if err := reg.Register(t); err != nil {
			return err
		}
	}
	return nil
}
