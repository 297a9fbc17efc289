//go:build !mana_omit_twofactor

package main

import (
	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/plugins/twofactor"
)

func init() {
	register("twofactor", func(cfg *core.Config) core.Plugin { return twofactor.New(cfg) })
}
