package db_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
	"github.com/mana/mana-auth/migrations"
)

// extraSet is a second owner's schema with two versions.
func extraSet(slowPG bool) db.MigrationSet {
	pgFirst := "-- +goose Up\nCREATE TABLE extra_a (id text PRIMARY KEY);\n" +
		"-- +goose Down\nDROP TABLE extra_a;\n"
	if slowPG {
		// Long enough that concurrent migrators overlap.
		pgFirst = "-- +goose Up\nSELECT pg_sleep(0.3);\n" +
			"CREATE TABLE extra_a (id text PRIMARY KEY);\n" +
			"-- +goose Down\nDROP TABLE extra_a;\n"
	}
	second := "-- +goose Up\nCREATE TABLE extra_b (id text PRIMARY KEY);\n" +
		"-- +goose Down\nDROP TABLE extra_b;\n"
	return db.MigrationSet{Owner: "extra", FS: fstest.MapFS{
		"postgres/00001_a.sql": {Data: []byte(pgFirst)},
		"postgres/00002_b.sql": {Data: []byte(second)},
		"sqlite/00001_a.sql": {Data: []byte("-- +goose Up\n" +
			"CREATE TABLE extra_a (id TEXT PRIMARY KEY);\n" +
			"-- +goose Down\nDROP TABLE extra_a;\n")},
		"sqlite/00002_b.sql": {Data: []byte(second)},
	}}
}

func TestMigrate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d db.DB) {
		ctx := context.Background()
		sets := []db.MigrationSet{migrations.Core, extraSet(false)}

		pending, err := db.Pending(ctx, d, sets...)
		if err != nil || !pending {
			t.Fatalf("Pending before = %v, %v; want true", pending, err)
		}
		st, err := db.MigrationStatus(ctx, d, sets...)
		if err != nil {
			t.Fatal(err)
		}
		want := []db.SetStatus{
			{Owner: "core", Pending: []int64{1}},
			{Owner: "extra", Pending: []int64{1, 2}},
		}
		if !statusEqual(st, want) {
			t.Errorf("status before = %+v, want %+v", st, want)
		}

		for i := range 2 { // idempotent
			if err := db.Migrate(ctx, d, sets...); err != nil {
				t.Fatalf("Migrate #%d: %v", i+1, err)
			}
		}

		pending, err = db.Pending(ctx, d, sets...)
		if err != nil || pending {
			t.Errorf("Pending after = %v, %v; want false", pending, err)
		}
		st, err = db.MigrationStatus(ctx, d, sets...)
		if err != nil {
			t.Fatal(err)
		}
		want = []db.SetStatus{
			{Owner: "core", Applied: []int64{1}},
			{Owner: "extra", Applied: []int64{1, 2}},
		}
		if !statusEqual(st, want) {
			t.Errorf("status after = %+v, want %+v", st, want)
		}

		// Each set keeps its own version table.
		for table, want := range map[string]int64{"goose_core": 1, "goose_extra": 2} {
			n := count(t, d, `SELECT count(*) FROM `+table+` WHERE version_id > 0`)
			if n != want {
				t.Errorf("%s records %d versions, want %d", table, n, want)
			}
		}
		count(t, d, `SELECT count(*) FROM extra_b`)
		count(t, d, `SELECT count(*) FROM users`)
	})
}

func TestMigrateRejectsBadSets(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	ctx := context.Background()
	cases := []struct {
		name string
		set  db.MigrationSet
	}{
		{"bad owner", db.MigrationSet{Owner: "Core; DROP", FS: migrations.Core.FS}},
		{"no FS", db.MigrationSet{Owner: "x"}},
		{"no dialect folder", db.MigrationSet{Owner: "x", FS: fstest.MapFS{
			"postgres/00001_a.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")},
		}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := db.Migrate(ctx, d, c.set); err == nil {
				t.Error("Migrate succeeded")
			}
		})
	}
}

// TestMigrateConcurrently starts two instances' migrations together; each
// version must be applied exactly once and both must succeed.
func TestMigrateConcurrently(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d db.DB) {
		ctx := context.Background()
		instances := []db.DB{d, d}
		if d.Dialect() == db.Postgres {
			// SQLite serialises within one process only (see Migrate).
			instances[1] = dbtest.Reopen(t, d)
		}
		sets := []db.MigrationSet{migrations.Core, extraSet(true)}
		// Create the version tables first, so both instances find them and
		// race on the migrations themselves.
		if _, err := db.MigrationStatus(ctx, d, sets...); err != nil {
			t.Fatal(err)
		}

		var wg sync.WaitGroup
		errs := make([]error, len(instances))
		for i, inst := range instances {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.Migrate(ctx, inst, sets...)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		}
		for _, table := range []string{"goose_core", "goose_extra"} {
			n := count(t, d, `SELECT count(*) FROM `+table+
				` WHERE version_id = 1`)
			if n != 1 {
				t.Errorf("%s records version 1 %d times", table, n)
			}
		}
	})
}

func statusEqual(a, b []db.SetStatus) bool {
	return slices.EqualFunc(a, b, func(x, y db.SetStatus) bool {
		return x.Owner == y.Owner && slices.Equal(x.Applied, y.Applied) &&
			slices.Equal(x.Pending, y.Pending)
	})
}
