// Command mana-auth is the mana authentication server.
//
//	mana-auth [serve]          run the server (the default)
//	mana-auth migrate up       apply every pending migration
//	mana-auth migrate status   show applied and pending migrations
//	mana-auth version          print the version and compiled-in plugins
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mana-auth:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serve(ctx, getenv, nil)
	case "migrate":
		return migrate(ctx, args, getenv, out)
	case "version", "--version", "-v":
		fmt.Fprintf(out, "mana-auth %s\nplugins: %s\n", version, strings.Join(pluginIDs(), ", "))
		return nil
	case "help", "--help", "-h":
		fmt.Fprintln(out, "usage: mana-auth [serve | migrate up|status | version"+
			pluginCommands()+"]")
		return nil
	}
	if c, ok := commands[cmd]; ok {
		a, err := build(ctx, getenv, true)
		if err != nil {
			return err
		}
		defer a.close()
		return c(ctx, a, args, out)
	}
	return errors.New("unknown command " + cmd + " (try: serve, migrate, version)")
}

func newLogger(level string, json bool, w io.Writer) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	o := &slog.HandlerOptions{Level: lv}
	if json {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

func pluginCommands() string {
	var s string
	for name := range commands {
		s += " | " + name
	}
	return s
}
