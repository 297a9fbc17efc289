package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mana/mana-auth/core/db"
)

// migrate runs `mana-auth migrate up|status`.
func migrate(ctx context.Context, args []string, getenv func(string) string,
	out io.Writer) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "status") {
		return errors.New("usage: mana-auth migrate up|status")
	}
	a, err := build(ctx, getenv, args[0] == "up")
	if err != nil {
		return err
	}
	defer a.close()
	st, err := db.MigrationStatus(ctx, a.db, a.sets...)
	if err != nil {
		return err
	}
	for _, s := range st {
		fmt.Fprintf(out, "%-14s applied %v pending %v\n", s.Owner, s.Applied, s.Pending)
	}
	return nil
}
