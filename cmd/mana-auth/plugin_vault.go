//go:build !mana_omit_vault

package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/plugins/vault"
)

func init() {
	register("vault", func(cfg *core.Config) core.Plugin { return vault.New(cfg) })
	registerCommand("vault", vaultCommand)
}

// vaultCommand runs `mana-auth vault rewrap …`. SIGINT and SIGTERM stop it
// between batches; the batch in flight rolls back and nothing is lost.
func vaultCommand(ctx context.Context, a *app, args []string, out io.Writer) error {
	p, ok := a.engine.Plugin("vault").(*vault.Plugin)
	if !ok {
		return errors.New("the vault plugin is not compiled in")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return vault.RunCommand(ctx, p, args, out)
}
