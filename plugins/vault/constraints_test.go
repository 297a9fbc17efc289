package vault_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/internal/apitest"
)

// TestConstraints: updates that would break the vault's invariants fail in
// the database itself (raw SQL, no Go check in the way), on both dialects.
func TestConstraints(t *testing.T) {
	_, k := newKEK(t)
	apitest.Each(t, options(k), func(t *testing.T, env *apitest.Env) {
		// plain: a KEK wrap only. full: a KEK wrap and a recovery wrap.
		plain := signUp(t, env, "plain@example.com")
		full := signUp(t, env, "full@example.com")
		mustKey(t, plain.C.Do("POST", base+"/init", nil))
		mustKey(t, full.C.Do("POST", base+"/init", nil))
		if r := full.C.Do("POST", base+"/recovery-wrap", map[string]any{
			"recoveryWrappedMk": b64(make([]byte, 48)),
			"recoveryIv":        b64(make([]byte, 12))}); r.Status != 200 {
			t.Fatalf("recovery-wrap: %d %s", r.Status, r.Body)
		}

		for _, tc := range []struct {
			name       string
			constraint string
			sql        string
			args       []any
		}{
			{"no wrap at all", "encryption_vaults_has_wrap",
				"UPDATE encryption_vaults SET wrapped_mk = NULL, wrap_iv = NULL, " +
					"kek_id = NULL WHERE user_id = $1", []any{plain.ID}},
			{"recovery wrap without IV", "encryption_vaults_wrap_iv_pair",
				"UPDATE encryption_vaults SET recovery_iv = NULL WHERE user_id = $1",
				[]any{full.ID}},
			{"recovery IV without wrap", "encryption_vaults_wrap_iv_pair",
				"UPDATE encryption_vaults SET recovery_wrapped_mk = NULL " +
					"WHERE user_id = $1",
				[]any{full.ID}},
			{"zero-knowledge with a KEK wrap", "encryption_vaults_zk_consistency",
				"UPDATE encryption_vaults SET zero_knowledge = $2 WHERE user_id = $1",
				[]any{full.ID, true}},
			{"short KEK wrap", "encryption_vaults_kek_wrap_shape",
				"UPDATE encryption_vaults SET wrapped_mk = $2 WHERE user_id = $1",
				[]any{plain.ID, make([]byte, 47)}},
			{"KEK wrap without kek id", "encryption_vaults_kek_wrap_shape",
				"UPDATE encryption_vaults SET kek_id = NULL WHERE user_id = $1",
				[]any{plain.ID}},
			{"short recovery wrap", "encryption_vaults_recovery_shape",
				"UPDATE encryption_vaults SET recovery_wrapped_mk = $2 WHERE user_id = $1",
				[]any{full.ID, make([]byte, 40)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := full.C.Do("GET", base+"/status", nil).Body
				_, err := env.DB.Exec(context.Background(), tc.sql, tc.args...)
				if !errors.Is(err, db.ErrConstraint) {
					t.Fatalf("err = %v, want db.ErrConstraint", err)
				}
				if !strings.Contains(err.Error(), tc.constraint) {
					t.Errorf("err = %v, want constraint %s", err, tc.constraint)
				}
				if after := full.C.Do("GET", base+"/status", nil).Body; string(after) !=
					string(before) {
					t.Errorf("row changed: %s -> %s", before, after)
				}
			})
		}

		_, err := env.DB.Exec(context.Background(), "UPDATE encryption_vault_audit "+
			"SET outcome = 'maybe' WHERE user_id = $1", plain.ID)
		if !errors.Is(err, db.ErrConstraint) {
			t.Errorf("audit outcome: err = %v", err)
		}
		mustKey(t, plain.C.Do("GET", base+"/key", nil))
	})
}

// TestAuditInSameTransaction: when the audit row cannot be written, the
// change it would record is rolled back too.
func TestAuditInSameTransaction(t *testing.T) {
	_, k := newKEK(t)
	apitest.Each(t, options(k), func(t *testing.T, env *apitest.Env) {
		ctx := context.Background()
		u := signUp(t, env, "audit@example.com")
		mk := mustKey(t, u.C.Do("POST", base+"/init", nil))
		u.C.Do("POST", base+"/recovery-wrap", map[string]any{
			"recoveryWrappedMk": b64(make([]byte, 48)),
			"recoveryIv":        b64(make([]byte, 12))})

		install := []string{"CREATE TRIGGER vault_audit_fail BEFORE INSERT ON " +
			"encryption_vault_audit BEGIN SELECT RAISE(ABORT, 'audit down'); END"}
		drop := "DROP TRIGGER vault_audit_fail"
		if env.DB.Dialect() == db.Postgres {
			install = []string{"CREATE FUNCTION vault_audit_fail() RETURNS trigger " +
				"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit down'; END $$",
				"CREATE TRIGGER vault_audit_fail BEFORE INSERT ON encryption_vault_audit " +
					"FOR EACH ROW EXECUTE FUNCTION vault_audit_fail()"}
			drop = "DROP TRIGGER vault_audit_fail ON encryption_vault_audit"
		}
		for _, q := range install {
			if _, err := env.DB.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		before := u.C.Do("GET", base+"/status", nil).Body
		wantError(t, u.C.Do("POST", base+"/rotate", nil), 500, "INTERNAL_SERVER_ERROR")
		wantError(t, u.C.Do("POST", base+"/zero-knowledge", map[string]any{"enable": true}),
			500, "INTERNAL_SERVER_ERROR")
		wantError(t, u.C.Do("DELETE", base+"/recovery-wrap", nil), 500,
			"INTERNAL_SERVER_ERROR")
		wantError(t, u.C.Do("GET", base+"/key", nil), 500, "INTERNAL_SERVER_ERROR")
		if _, err := env.DB.Exec(ctx, drop); err != nil {
			t.Fatal(err)
		}

		if after := u.C.Do("GET", base+"/status", nil).Body; string(after) !=
			string(before) {
			t.Errorf("state changed without audit: %s -> %s", before, after)
		}
		if got := mustKey(t, u.C.Do("GET", base+"/key", nil)); string(got) != string(mk) {
			t.Error("key rotated without an audit row")
		}
		if n := count(t, env.DB, "SELECT count(*) FROM security_events WHERE "+
			"user_id = $1 AND event LIKE 'vault_%' AND event <> $2", u.ID,
			"vault_recovery_wrap_set"); n != 0 {
			t.Errorf("%d security events for rolled-back changes", n)
		}
	})
}
