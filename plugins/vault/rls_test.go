package vault_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/vault"
)

// ownerRole creates a non-superuser login role that owns both vault tables
// (so FORCE ROW LEVEL SECURITY is what binds it, as in a production schema
// the service migrates itself) and may use every other table of admin's
// schema. It returns a pool connected as that role; cleanup closes it,
// hands the tables back and drops the role.
func ownerRole(t *testing.T, admin db.DB) db.DB {
	t.Helper()
	ctx := context.Background()
	var schema string
	if err := admin.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	role := "mana_vault_rls_" + hex.EncodeToString(b[:])
	_, err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN NOSUPERUSER NOBYPASSRLS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, q := range []string{"REASSIGN OWNED BY " + role + " TO CURRENT_USER",
			"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := admin.Exec(context.Background(), q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	for _, q := range []string{
		"GRANT USAGE, CREATE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + schema +
			" TO " + role,
		"ALTER TABLE encryption_vaults OWNER TO " + role,
		"ALTER TABLE encryption_vault_audit OWNER TO " + role,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	u, err := url.Parse(dbtest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	rd, err := db.Open(ctx, u.String(), db.Options{Schema: schema, MaxConns: 4})
	if err != nil {
		t.Fatalf("connecting as %s: %v", role, err)
	}
	t.Cleanup(func() { rd.Close() })
	var super bool
	if err := rd.QueryRow(ctx, "SELECT rolsuper OR rolbypassrls FROM pg_roles "+
		"WHERE rolname = current_user").Scan(&super); err != nil || super {
		t.Fatalf("role bypasses RLS (%v, %v)", super, err)
	}
	return rd
}

// countAs counts vault rows (and audit rows) visible to a transaction of
// d bound to bindAs ("-" binds nothing).
func countAs(t *testing.T, d db.DB, bindAs string) (vaults, audit int) {
	t.Helper()
	err := d.Tx(context.Background(), func(tx db.Tx) error {
		ctx := context.Background()
		if bindAs != "-" {
			if _, err := tx.Exec(ctx, "SELECT set_config('mana.user_id', $1, true)",
				bindAs); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM encryption_vaults").
			Scan(&vaults); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT count(*) FROM encryption_vault_audit").Scan(&audit)
	})
	if err != nil {
		t.Fatal(err)
	}
	return vaults, audit
}

// TestRowLevelSecurity proves the PostgreSQL policies bind an ordinary
// role, the tables' owner included: without mana.user_id a query sees no
// vault, with another user's id it sees none, with the right id it sees
// exactly that user's row; writes outside the bound user fail or match
// nothing; a user's deletion still cascades.
func TestRowLevelSecurity(t *testing.T) {
	admin := dbtest.Open(t, db.Postgres)
	_, k := newKEK(t)
	o := options(k)
	o.Dialect, o.DB = db.Postgres, admin
	env := apitest.New(t, o)
	alice, bob := signUp(t, env, "alice@example.com"), signUp(t, env, "bob@example.com")
	mustKey(t, alice.C.Do("POST", base+"/init", nil))
	mustKey(t, bob.C.Do("POST", base+"/init", nil))
	rd := ownerRole(t, admin)
	ctx := context.Background()

	for _, tc := range []struct {
		name          string
		bindAs        string
		vaults, audit int
	}{
		{"unbound", "-", 0, 0},
		{"unknown user", "nobody", 0, 0},
		{"empty id", "", 0, 0},
		{"alice", alice.ID, 1, 1},
		{"bob", bob.ID, 1, 1},
	} {
		v, a := countAs(t, rd, tc.bindAs)
		if v != tc.vaults || a != tc.audit {
			t.Errorf("%s: sees %d vaults, %d audit rows; want %d, %d", tc.name, v, a,
				tc.vaults, tc.audit)
		}
	}
	// The superuser the other tests use is not bound at all, which is why
	// production must connect as an ordinary role.
	if v, _ := countAs(t, admin, "-"); v != 2 {
		t.Errorf("superuser sees %d vaults, want 2", v)
	}

	// Bound to bob, alice's row is invisible to reads and writes.
	err := rd.Tx(ctx, func(tx db.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('mana.user_id', $1, true)",
			bob.ID); err != nil {
			return err
		}
		var n int
		err := tx.QueryRow(ctx, "SELECT count(*) FROM encryption_vaults WHERE user_id = $1",
			alice.ID).Scan(&n)
		if err != nil || n != 0 {
			t.Errorf("bob reads alice's vault: %d, %v", n, err)
		}
		for _, q := range []string{
			"UPDATE encryption_vaults SET zero_knowledge = false WHERE user_id = $1",
			"DELETE FROM encryption_vaults WHERE user_id = $1",
		} {
			if n, err := tx.Exec(ctx, q, alice.ID); err != nil || n != 0 {
				t.Errorf("%s as bob: %d rows, %v", q, n, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = rd.Tx(ctx, func(tx db.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('mana.user_id', $1, true)",
			bob.ID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO encryption_vault_audit (id, user_id, action, "+
			"outcome) VALUES ('forged', $1, 'key', 'success')", alice.ID)
		return err
	})
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		t.Errorf("bob writes alice's audit row: %v", err)
	}
	if n := audits(t, admin, alice.ID, "init", "success"); n != 1 {
		t.Errorf("alice's audit rows = %d", n)
	}

	// Deleting a user as the role cascades to the vault rows, which are
	// never visible to it.
	if _, err := rd.Exec(ctx, "DELETE FROM users WHERE id = $1", bob.ID); err != nil {
		t.Fatal(err)
	}
	if n := count(t, admin, "SELECT count(*) FROM encryption_vaults WHERE user_id = $1",
		bob.ID); n != 0 {
		t.Errorf("bob's vault survived his deletion")
	}
}

// TestRoutesUnderRLS runs the route walk and the zero-knowledge round trip
// on a server connected as an ordinary role that owns the vault tables:
// every vault query must bind its user or it would see nothing.
func TestRoutesUnderRLS(t *testing.T) {
	admin := dbtest.Open(t, db.Postgres)
	kek, k := newKEK(t)
	o := options(k)
	o.Dialect, o.DB = db.Postgres, admin
	apitest.New(t, o) // migrates as the superuser
	o.DB = ownerRole(t, admin)
	env := apitest.New(t, o)

	exerciseRoutes(t, env, admin, vault.KEKID(kek))
	exerciseZeroKnowledge(t, env, admin)

	// Rewrap, export and erase bind their users too.
	p := env.Engine.Plugin("vault").(*vault.Plugin)
	res, err := p.Rewrap(context.Background(), vault.RewrapOptions{BatchSize: 1})
	if err != nil || !res.Done || res.Vaults != 3 {
		t.Errorf("rewrap under RLS: %+v, %v", res, err)
	}
	var uid string
	if err := admin.QueryRow(context.Background(), "SELECT id FROM users WHERE email = $1",
		"zoe@example.com").Scan(&uid); err != nil {
		t.Fatal(err)
	}
	data, err := p.ExportUserData(context.Background(), env.DB, uid)
	if ud, _ := data.(vault.UserData); err != nil || !ud.VaultExists || len(ud.Audit) == 0 {
		t.Errorf("export under RLS: %+v, %v", data, err)
	}
	var erased int64
	err = env.DB.Tx(context.Background(), func(tx db.Tx) error {
		erased, err = p.EraseUserData(context.Background(), tx, uid)
		return err
	})
	if err != nil || erased < 2 {
		t.Errorf("erase under RLS: %d, %v", erased, err)
	}
	if n := count(t, admin, "SELECT count(*) FROM encryption_vaults WHERE user_id = $1",
		uid); n != 0 {
		t.Error("vault survived erasure")
	}
}
