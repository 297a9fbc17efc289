//go:build !mana_omit_magiclink

package main

import (
	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/plugins/magiclink"
)

func init() {
	register("magiclink", func(cfg *core.Config) core.Plugin { return magiclink.New(cfg) })
}
