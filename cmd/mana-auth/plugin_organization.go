//go:build !mana_omit_organization

package main

import (
	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/plugins/organization"
)

func init() {
	register("organization", func(cfg *core.Config) core.Plugin { return organization.New(cfg) })
}
