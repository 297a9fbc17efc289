//go:build !mana_omit_gdpr

package main

import (
	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/plugins/gdpr"
)

func init() { register("gdpr", func(cfg *core.Config) core.Plugin { return gdpr.New(cfg) }) }
