//go:build !mana_omit_jwt

package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/plugins/jwt"
)

func init() {
	register("jwt", func(cfg *core.Config) core.Plugin { return jwt.New(cfg) })
	registerCommand("keys", keysCommand)
}

// keysCommand is `mana-auth keys rotate`: a new signing key now; the old one
// keeps verifying for JWT_GRACE_PERIOD. Running servers switch at their next
// key reload (JWT_KEY_RELOAD_INTERVAL).
func keysCommand(ctx context.Context, a *app, args []string, out io.Writer) error {
	if len(args) != 1 || args[0] != "rotate" {
		return errors.New("usage: mana-auth keys rotate")
	}
	p, ok := a.engine.Plugin(jwt.ID).(*jwt.Plugin)
	if !ok {
		return errors.New("the jwt plugin is not compiled in")
	}
	kid, err := p.Rotate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "new signing key %s; any key it replaces stays valid for %s\n", kid,
		p.Settings().GracePeriod)
	return nil
}
