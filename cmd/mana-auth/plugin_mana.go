//go:build !mana_omit_mana

package main

import (
	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/plugins/mana"
)

func init() { register(mana.ID, func(cfg *core.Config) core.Plugin { return mana.New(cfg) }) }
