// Package migrations holds mana-auth's core schema: Better Auth's users,
// sessions, accounts and verifications tables in snake_case, plus the
// security-event log and the job outbox. Plugins ship their own sets.
package migrations

import (
	"embed"

	"github.com/mana/mana-auth/core/db"
)

//go:embed postgres sqlite
var files embed.FS

// Core is the core schema's migration set, recorded in goose_core.
var Core = db.MigrationSet{Owner: "core", FS: files}
