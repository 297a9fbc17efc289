package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOmitTags proves that each mana_omit_<id> tag really removes the
// plugin's package from the binary, and that omitting all leaves the core.
func TestOmitTags(t *testing.T) {
	deps := func(tags string) string {
		out, err := exec.Command("go", "list", "-tags", tags, "-deps", ".").CombinedOutput()
		if err != nil {
			t.Fatalf("go list -tags %s: %v\n%s", tags, err, out)
		}
		return string(out)
	}
	const pkg = "github.com/mana/mana-auth/plugins/"
	var all []string
	for _, id := range order {
		all = append(all, "mana_omit_"+id)
		t.Run(id, func(t *testing.T) {
			if d := deps("mana_omit_" + id); strings.Contains(d, pkg+id+"\n") {
				t.Errorf("mana_omit_%s still links %s%s", id, pkg, id)
			}
		})
	}
	if d := deps(strings.Join(all, ",")); strings.Contains(d, pkg) {
		t.Errorf("every plugin omitted, yet a plugin package is linked:\n%s", d)
	}
	if d := deps(""); !strings.Contains(d, "github.com/mana/mana-auth/core\n") {
		t.Error("core not linked")
	}
}
