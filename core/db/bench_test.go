package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
)

// BenchmarkQueryRowByPK reads one session row by primary key, the shape of
// the session lookup on every authenticated request.
func BenchmarkQueryRowByPK(b *testing.B) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		b.Run(string(dialect), func(b *testing.B) {
			d := dbtest.Open(b, dialect)
			migrate(b, d)
			addUser(b, d, "u1", "ada@example.com")
			now := db.Now()
			exec(b, d, `INSERT INTO sessions (id, token, user_id, expires_at,
				created_at, updated_at, ip_address) VALUES ('s1', 'tok', 'u1', $1, $2, $2,
				'192.0.2.1')`, now.Add(time.Hour), now)
			ctx := context.Background()
			const q = `SELECT token, user_id, expires_at, created_at, updated_at,
				ip_address, user_agent, dont_remember FROM sessions WHERE id = $1`

			var (
				token, userID        string
				expires, created, up time.Time
				ip, ua               *string
				dontRemember         bool
			)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				err := d.QueryRow(ctx, q, "s1").Scan(&token, &userID, &expires,
					&created, &up, &ip, &ua, &dontRemember)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
