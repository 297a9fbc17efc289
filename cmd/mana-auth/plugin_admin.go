//go:build !mana_omit_admin

package main

import (
	"context"
	"io"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/plugins/admin"
)

func init() {
	register("admin", func(cfg *core.Config) core.Plugin { return admin.New(cfg) })
	registerCommand("user", userCommand)
}

// userCommand runs `mana-auth user set-role <email> <role>`, the way to
// make the first admin.
func userCommand(ctx context.Context, a *app, args []string, out io.Writer) error {
	return admin.RunCommand(ctx, a.engine, args, out)
}
