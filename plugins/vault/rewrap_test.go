package vault_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/vault"
)

// TestKEKRotation: vaults made under KEK A; the server moves to KEK B with
// A as previous; /key rewraps lazily; the rewrap command is interrupted
// twice (a batch limit, a cancelled context) and resumed; then a server
// with B alone opens every vault to the same key.
func TestKEKRotation(t *testing.T) {
	kekA, a := newKEK(t)
	kekB, b := newKEK(t)
	apitest.Each(t, options(a), func(t *testing.T, envA *apitest.Env) {
		ctx := context.Background()
		d := envA.DB
		users := make([]user, 7)
		keys := map[string][]byte{}
		for i := range users {
			users[i] = signUp(t, envA, fmt.Sprintf("u%d@example.com", i))
			if i == 6 {
				continue // no vault
			}
			keys[users[i].ID] = mustKey(t, users[i].C.Do("POST", base+"/init", nil))
		}
		// users[5] is in zero-knowledge mode: nothing to rewrap.
		zk := users[5]
		sealed, iv := recoveryWrap(t, "code", keys[zk.ID])
		zk.C.Do("POST", base+"/recovery-wrap", map[string]any{
			"recoveryWrappedMk": b64(sealed), "recoveryIv": b64(iv)})
		r := zk.C.Do("POST", base+"/zero-knowledge", map[string]any{"enable": true})
		if r.Status != 200 {
			t.Fatalf("zk: %d %s", r.Status, r.Body)
		}
		under := func(k []byte) int {
			return count(t, d, "SELECT count(*) FROM encryption_vaults WHERE kek_id = $1",
				vault.KEKID(k))
		}
		if n := under(kekA); n != 5 {
			t.Fatalf("%d vaults under A", n)
		}

		oB := options(b, a)
		oB.Dialect, oB.DB = d.Dialect(), d
		envB := apitest.New(t, oB)
		pB := envB.Engine.Plugin("vault").(*vault.Plugin)

		// Lazy: /key under B opens A's wrap and rewraps it.
		lazy := users[0]
		r = lazy.Bearer(envB).Do("GET", base+"/key", nil)
		if got := mustKey(t, r); !bytes.Equal(got, keys[lazy.ID]) ||
			r.JSON["kekId"] != vault.KEKID(kekB) {
			t.Fatalf("lazy rewrap: %s", r.Body)
		}
		if n := under(kekA); n != 4 {
			t.Fatalf("after lazy rewrap %d vaults under A, want 4", n)
		}

		// Interrupted by a batch limit.
		ids := make([]string, len(users))
		for i, u := range users {
			ids[i] = u.ID
		}
		sort.Strings(ids)
		res, err := pB.Rewrap(ctx, vault.RewrapOptions{BatchSize: 2, MaxBatches: 1})
		if err != nil || res.Batches != 1 || res.Done || res.Scanned != 2 ||
			res.Cursor != ids[1] {
			t.Fatalf("first batch: %+v, %v", res, err)
		}
		wantA := 4
		for _, id := range ids[:2] {
			if id != lazy.ID && id != zk.ID && id != users[6].ID {
				wantA--
			}
		}
		if n := under(kekA); n != wantA {
			t.Fatalf("after one batch %d vaults under A, want %d", n, wantA)
		}

		// Interrupted by a cancelled context after the next batch.
		cctx, cancel := context.WithCancel(ctx)
		res, err = pB.Rewrap(cctx, vault.RewrapOptions{BatchSize: 2, After: res.Cursor,
			Progress: func(vault.RewrapResult) { cancel() }})
		if !errors.Is(err, context.Canceled) || res.Batches != 1 || res.Cursor != ids[3] {
			t.Fatalf("cancelled run: %+v, %v", res, err)
		}

		// Resumed from the start: it finishes and rewraps what is left.
		res, err = pB.Rewrap(ctx, vault.RewrapOptions{BatchSize: 2})
		if err != nil || !res.Done || res.Failed != 0 || res.Scanned != 7 ||
			res.Vaults != 6 {
			t.Fatalf("resumed run: %+v, %v", res, err)
		}
		if n := under(kekA); n != 0 {
			t.Fatalf("%d vaults still under A", n)
		}
		if n := under(kekB); n != 5 {
			t.Fatalf("%d vaults under B, want 5", n)
		}
		again, err := pB.Rewrap(ctx, vault.RewrapOptions{})
		if err != nil || again.Rewrapped != 0 || !again.Done {
			t.Errorf("second full run: %+v, %v", again, err)
		}

		// B alone opens everything.
		oC := options(b)
		oC.Dialect, oC.DB = d.Dialect(), d
		envC := apitest.New(t, oC)
		for _, u := range users[:5] {
			got := mustKey(t, u.Bearer(envC).Do("GET", base+"/key", nil))
			if !bytes.Equal(got, keys[u.ID]) {
				t.Errorf("%s: key changed by the rotation", u.ID)
			}
		}
		r = zk.Bearer(envC).Do("GET", base+"/key", nil)
		if r.JSON["requiresRecoveryCode"] != true {
			t.Errorf("zk user: %s", r.Body)
		}

		// A server without B fails closed, and the command says so.
		_, c := newKEK(t)
		oD := options(c)
		oD.Dialect, oD.DB = d.Dialect(), d
		envD := apitest.New(t, oD)
		wantError(t, users[1].Bearer(envD).Do("GET", base+"/key", nil), 500,
			"INTERNAL_SERVER_ERROR")
		var out strings.Builder
		err = vault.RunCommand(ctx, envD.Engine.Plugin("vault").(*vault.Plugin),
			[]string{"rewrap", "-batch", "3"}, &out)
		if err == nil || !strings.Contains(out.String(), "5 failed") {
			t.Errorf("rewrap without the KEK: %v\n%s", err, out.String())
		}
		if n := under(kekB); n != 5 {
			t.Errorf("a failed rewrap changed rows: %d under B", n)
		}
	})
}

func TestRunCommand(t *testing.T) {
	_, k := newKEK(t)
	env := apitest.New(t, options(k))
	p := env.Engine.Plugin("vault").(*vault.Plugin)
	u := signUp(t, env, "cmd@example.com")
	mustKey(t, u.C.Do("POST", base+"/init", nil))
	for name, args := range map[string][]string{
		"none":        nil,
		"unknown":     {"rotate"},
		"bad flag":    {"rewrap", "-bogus"},
		"bad batch":   {"rewrap", "0"},
		"not number":  {"rewrap", "many"},
		"two args":    {"rewrap", "1", "2"},
		"neg batches": {"rewrap", "-max-batches", "-1"},
	} {
		var out strings.Builder
		if err := vault.RunCommand(context.Background(), p, args, &out); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	var out strings.Builder
	if err := vault.RunCommand(context.Background(), p, []string{"rewrap", "10"},
		&out); err != nil || !strings.Contains(out.String(), "done: 1 users, 1 vaults, "+
		"0 rewrapped, 0 failed") {
		t.Errorf("rewrap: %v\n%s", err, out.String())
	}
}
