package main

import (
	"context"
	"io"
	"sort"

	"github.com/mana/mana-auth/core"
)

// constructor builds a plugin from the configuration.
type constructor func(cfg *core.Config) core.Plugin

// registry holds the plugins compiled in: one tagged file per plugin adds
// itself here in init, so `-tags mana_omit_<id>` drops the plugin and
// everything only it imports.
var registry = map[string]constructor{}

// order fixes the order plugins are constructed, initialised and mounted.
var order = []string{"jwt", "twofactor", "magiclink", "organization", "vault", "gdpr",
	"admin", "mana"}

func register(id string, c constructor) { registry[id] = c }

func pluginIDs() []string {
	ids := make([]string, 0, len(registry))
	for id := range registry {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return []string{"(none)"}
	}
	return ids
}

func buildPlugins(cfg *core.Config) []core.Plugin {
	var ps []core.Plugin
	for _, id := range order {
		if c, ok := registry[id]; ok {
			ps = append(ps, c(cfg))
		}
	}
	return ps
}

// command is a subcommand a plugin adds (vault rewrap, keys rotate). It
// runs against a wired app whose migrations have been applied.
type command func(ctx context.Context, a *app, args []string, out io.Writer) error

var commands = map[string]command{}

func registerCommand(name string, c command) { commands[name] = c }
