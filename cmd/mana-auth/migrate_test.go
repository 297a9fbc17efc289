package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrateStatusThenUp(t *testing.T) {
	env := map[string]string{
		"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "m.db"),
		"LOG_LEVEL":    "error",
	}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(t.Context(), []string{"migrate", "status"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "core") || !strings.Contains(out.String(), "pending [1]") {
		t.Fatalf("status before up:\n%s", out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"migrate", "up"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "pending [1") {
		t.Fatalf("pending after up:\n%s", out.String())
	}
	if err := run(t.Context(), []string{"migrate", "sideways"}, getenv, &out); err == nil {
		t.Error("bad subcommand accepted")
	}
	if err := run(t.Context(), []string{"nonsense"}, getenv, &out); err == nil {
		t.Error("unknown command accepted")
	}
}
