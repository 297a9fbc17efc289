package vault_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/hkdf"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/vault"
)

var isoMillis = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

func TestUnauthenticated(t *testing.T) {
	_, k := newKEK(t)
	env := apitest.New(t, options(k))
	c := env.Client()
	for _, rt := range []struct{ method, path string }{
		{"GET", "/status"}, {"POST", "/init"}, {"GET", "/key"}, {"POST", "/rotate"},
		{"POST", "/recovery-wrap"}, {"DELETE", "/recovery-wrap"},
		{"POST", "/zero-knowledge"},
	} {
		r := c.Do(rt.method, base+rt.path, nil)
		if r.Status != 401 || r.Code() != "UNAUTHORIZED" {
			t.Errorf("%s %s: %d %s", rt.method, rt.path, r.Status, r.Body)
		}
	}
}

// TestRoutes walks every route and every error code of WIRE.md §2.3 on
// both dialects, checking shapes, database effects, audit rows and metrics.
func TestRoutes(t *testing.T) {
	kek, k := newKEK(t)
	apitest.Each(t, options(k), func(t *testing.T, env *apitest.Env) {
		exerciseRoutes(t, env, env.DB, vault.KEKID(kek))
	})
}

// exerciseRoutes runs the route walk on env; inspect is a connection that
// sees every row (a superuser on PostgreSQL) for the database checks.
func exerciseRoutes(t *testing.T, env *apitest.Env, inspect db.DB, kekID string) {
	u := signUp(t, env, "alice@example.com")
	c := u.C

	// Before init.
	st := c.Do("GET", base+"/status", nil)
	if st.Status != 200 || st.JSON["vaultExists"] != false ||
		st.JSON["hasRecoveryWrap"] != false || st.JSON["zeroKnowledge"] != false ||
		st.JSON["recoverySetAt"] != nil {
		t.Fatalf("status before init: %d %s", st.Status, st.Body)
	}
	if _, ok := st.JSON["recoverySetAt"]; !ok {
		t.Error("recoverySetAt missing from /status")
	}
	wantError(t, c.Do("GET", base+"/key", nil), 404, "VAULT_NOT_INITIALIZED")
	wantError(t, c.Do("POST", base+"/rotate", nil), 404, "VAULT_NOT_INITIALIZED")
	goodWrap := map[string]any{"recoveryWrappedMk": b64(make([]byte, 48)),
		"recoveryIv": b64(make([]byte, 12))}
	wantError(t, c.Do("POST", base+"/recovery-wrap", goodWrap), 404,
		"VAULT_NOT_INITIALIZED")
	wantError(t, c.Do("DELETE", base+"/recovery-wrap", nil), 404, "VAULT_NOT_INITIALIZED")
	wantError(t, c.Do("POST", base+"/zero-knowledge", map[string]any{"enable": true}), 404,
		"VAULT_NOT_INITIALIZED")
	if n := audits(t, inspect, u.ID, "key", "denied"); n != 1 {
		t.Errorf("denied key audit rows = %d, want 1", n)
	}
	if n := count(t, inspect, "SELECT count(*) FROM encryption_vaults"); n != 0 {
		t.Fatalf("vault rows before init = %d", n)
	}

	// Init, idempotent.
	in := c.Do("POST", base+"/init", nil)
	mk := mustKey(t, in)
	if in.JSON["kekId"] != kekID {
		t.Errorf("kekId = %v, want %s", in.JSON["kekId"], kekID)
	}
	if again := mustKey(t, c.Do("POST", base+"/init", nil)); !bytes.Equal(again, mk) {
		t.Fatal("second init returned another key")
	}
	if got := mustKey(t, c.Do("GET", base+"/key", nil)); !bytes.Equal(got, mk) {
		t.Fatal("/key differs from /init")
	}
	var wrapped, iv []byte
	if err := inspect.QueryRow(context.Background(), "SELECT wrapped_mk, wrap_iv "+
		"FROM encryption_vaults WHERE user_id = $1", u.ID).Scan(&wrapped, &iv); err != nil {
		t.Fatal(err)
	}
	if len(wrapped) != 48 || len(iv) != 12 || bytes.Contains(wrapped, mk[:16]) {
		t.Errorf("stored wrap: %d bytes, iv %d bytes", len(wrapped), len(iv))
	}
	st = c.Do("GET", base+"/status", nil)
	if st.JSON["vaultExists"] != true || st.JSON["hasRecoveryWrap"] != false {
		t.Errorf("status after init: %s", st.Body)
	}

	// Recovery wrap: validation.
	for name, body := range map[string]any{
		"wrap 47 bytes": map[string]any{"recoveryWrappedMk": b64(make([]byte, 47)),
			"recoveryIv": b64(make([]byte, 12))},
		"wrap 49 bytes": map[string]any{"recoveryWrappedMk": b64(make([]byte, 49)),
			"recoveryIv": b64(make([]byte, 12))},
		"iv 11 bytes": map[string]any{"recoveryWrappedMk": b64(make([]byte, 48)),
			"recoveryIv": b64(make([]byte, 11))},
		"iv 16 bytes": map[string]any{"recoveryWrappedMk": b64(make([]byte, 48)),
			"recoveryIv": b64(make([]byte, 16))},
		"not base64": map[string]any{"recoveryWrappedMk": strings.Repeat("!", 64),
			"recoveryIv": b64(make([]byte, 12))},
		"url-safe base64": map[string]any{
			"recoveryWrappedMk": strings.Repeat("-_", 32),
			"recoveryIv":        b64(make([]byte, 12))},
		"with newline": map[string]any{
			"recoveryWrappedMk": b64(make([]byte, 48))[:60] + "\n" + "AAA",
			"recoveryIv":        b64(make([]byte, 12))},
		"missing iv":   map[string]any{"recoveryWrappedMk": b64(make([]byte, 48))},
		"missing both": map[string]any{},
		"no body":      nil,
	} {
		r := c.Do("POST", base+"/recovery-wrap", body)
		if r.Status != 400 || r.Code() != "INVALID_RECOVERY_WRAP" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	wantError(t, c.Do("POST", base+"/recovery-wrap", `{"recoveryWrappedMk": 5}`), 400,
		"VALIDATION_ERROR")

	// Zero-knowledge needs a recovery wrap and a direction.
	wantError(t, c.Do("POST", base+"/zero-knowledge", map[string]any{"enable": true}), 400,
		"RECOVERY_WRAP_MISSING")
	wantError(t, c.Do("POST", base+"/zero-knowledge", map[string]any{}), 400,
		"VALIDATION_ERROR")
	wantError(t, c.Do("POST", base+"/zero-knowledge", `{"enable": "yes"}`), 400,
		"VALIDATION_ERROR")

	// Recovery wrap: set, delete, set.
	rw := c.Do("POST", base+"/recovery-wrap", goodWrap)
	if rw.Status != 200 || rw.JSON["hasRecoveryWrap"] != true ||
		!isoMillis.MatchString(str(rw.JSON["recoverySetAt"])) {
		t.Fatalf("recovery-wrap: %d %s", rw.Status, rw.Body)
	}
	st = c.Do("GET", base+"/status", nil)
	if st.JSON["hasRecoveryWrap"] != true ||
		st.JSON["recoverySetAt"] != rw.JSON["recoverySetAt"] {
		t.Errorf("status after recovery-wrap: %s", st.Body)
	}
	del := c.Do("DELETE", base+"/recovery-wrap", nil)
	if del.Status != 200 ||
		string(bytes.TrimSpace(del.Body)) != `{"hasRecoveryWrap":false}` {
		t.Fatalf("delete recovery-wrap: %d %s", del.Status, del.Body)
	}
	if st = c.Do("GET", base+"/status", nil); st.JSON["hasRecoveryWrap"] != false ||
		st.JSON["recoverySetAt"] != nil {
		t.Errorf("status after delete: %s", st.Body)
	}
	c.Do("POST", base+"/recovery-wrap", goodWrap)

	// Rotate: a fresh key; the recovery wrap (of the old key) goes.
	rot := c.Do("POST", base+"/rotate", nil)
	mk2 := mustKey(t, rot)
	if bytes.Equal(mk2, mk) {
		t.Fatal("rotate returned the old key")
	}
	if got := mustKey(t, c.Do("GET", base+"/key", nil)); !bytes.Equal(got, mk2) {
		t.Fatal("/key after rotate is not the new key")
	}
	if st = c.Do("GET", base+"/status", nil); st.JSON["hasRecoveryWrap"] != false {
		t.Errorf("recovery wrap survived rotation: %s", st.Body)
	}
	if n := count(t, inspect, "SELECT count(*) FROM security_events WHERE user_id = $1 "+
		"AND event = 'vault_key_rotated'", u.ID); n != 1 {
		t.Errorf("rotation security events = %d", n)
	}

	// Another user sees none of it.
	bob := signUp(t, env, "bob@example.com")
	if st := bob.C.Do("GET", base+"/status", nil); st.JSON["vaultExists"] != false {
		t.Errorf("bob sees a vault: %s", st.Body)
	}
	wantError(t, bob.C.Do("GET", base+"/key", nil), 404, "VAULT_NOT_INITIALIZED")
	if bmk := mustKey(t, bob.C.Do("POST", base+"/init", nil)); bytes.Equal(bmk, mk2) {
		t.Fatal("bob got alice's key")
	}

	// Audit rows: one per call, with client IP and user agent; none for
	// /status.
	for _, a := range []struct {
		action, outcome string
		want            int
	}{
		{"init", "success", 2}, {"key", "success", 2}, {"key", "denied", 1},
		{"rotate", "denied", 1}, {"rotate", "success", 1},
		{"recovery_wrap_set", "denied", 12}, {"recovery_wrap_set", "success", 2},
		{"recovery_wrap_delete", "denied", 1}, {"recovery_wrap_delete", "success", 1},
		{"zero_knowledge_enable", "denied", 2}, {"zero_knowledge", "denied", 2},
	} {
		if n := audits(t, inspect, u.ID, a.action, a.outcome); n != a.want {
			t.Errorf("audit %s/%s = %d, want %d", a.action, a.outcome, n, a.want)
		}
	}
	if n := audits(t, inspect, u.ID, "status", "success"); n != 0 {
		t.Errorf("/status wrote %d audit rows", n)
	}
	var ip, ua string
	if err := inspect.QueryRow(context.Background(), "SELECT ip_address, user_agent FROM "+
		"encryption_vault_audit WHERE user_id = $1 AND action = 'init' LIMIT 1", u.ID).
		Scan(&ip, &ua); err != nil || ip != "127.0.0.1" ||
		!strings.HasPrefix(ua, "Go-http") {
		t.Errorf("audit ip %q ua %q err %v", ip, ua, err)
	}

	if v := opsMetric(t, env.Registry, "key", "denied"); v < 1 {
		t.Errorf("metric key/denied = %v", v)
	}
	if v := opsMetric(t, env.Registry, "init", "success"); v < 3 {
		t.Errorf("metric init/success = %v", v)
	}
}

// recoveryWrap builds a recovery wrap as a browser would with WebCrypto:
// AES-GCM under a key derived from the recovery code, a random 12-byte IV,
// no additional data, a 16-byte tag.
func recoveryWrap(t testing.TB, code string, mk []byte) (sealed, iv []byte) {
	t.Helper()
	key := recoveryKey(t, code)
	gcm := newGCM(t, key)
	iv = make([]byte, 12)
	_, _ = rand.Read(iv)
	return gcm.Seal(nil, iv, mk, nil), iv
}

func recoveryKey(t testing.TB, code string) []byte {
	t.Helper()
	key := make([]byte, 32)
	r := hkdf.New(sha256.New, []byte(code), []byte("test-salt"), []byte("mana recovery"))
	if _, err := r.Read(key); err != nil {
		t.Fatal(err)
	}
	return key
}

func newGCM(t testing.TB, key []byte) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return gcm
}

// TestZeroKnowledgeRoundTrip: a client-built recovery wrap, zero-knowledge
// on, /key hands the wrap back, the client opens it to the same key; the
// server refuses what would lose the key; disabling needs the right key.
func TestZeroKnowledgeRoundTrip(t *testing.T) {
	_, k := newKEK(t)
	apitest.Each(t, options(k), func(t *testing.T, env *apitest.Env) {
		exerciseZeroKnowledge(t, env, env.DB)
	})
}

func exerciseZeroKnowledge(t *testing.T, env *apitest.Env, inspect db.DB) {
	u := signUp(t, env, "zoe@example.com")
	c := u.C
	mk := mustKey(t, c.Do("POST", base+"/init", nil))
	const code = "ABCD-EFGH-IJKL-MNOP"
	sealed, iv := recoveryWrap(t, code, mk)
	if r := c.Do("POST", base+"/recovery-wrap", map[string]any{
		"recoveryWrappedMk": b64(sealed), "recoveryIv": b64(iv)}); r.Status != 200 {
		t.Fatalf("recovery-wrap: %d %s", r.Status, r.Body)
	}

	on := c.Do("POST", base+"/zero-knowledge", map[string]any{"enable": true})
	if on.Status != 200 || string(bytes.TrimSpace(on.Body)) != `{"zeroKnowledge":true}` {
		t.Fatalf("enable: %d %s", on.Status, on.Body)
	}
	again := c.Do("POST", base+"/zero-knowledge", map[string]any{"enable": true})
	if again.Status != 200 || again.JSON["zeroKnowledge"] != true {
		t.Errorf("enable again: %d %s", again.Status, again.Body)
	}
	var kekWrap []byte
	var kekID *string
	if err := inspect.QueryRow(context.Background(), "SELECT wrapped_mk, kek_id FROM "+
		"encryption_vaults WHERE user_id = $1", u.ID).Scan(&kekWrap, &kekID); err != nil {
		t.Fatal(err)
	}
	if kekWrap != nil || kekID != nil {
		t.Fatal("KEK wrap kept in zero-knowledge mode")
	}

	for _, path := range []string{"/key", "/init"} {
		method := "GET"
		if path == "/init" {
			method = "POST"
		}
		r := c.Do(method, base+path, nil)
		if r.Status != 200 || r.JSON["requiresRecoveryCode"] != true ||
			r.JSON["masterKey"] != nil {
			t.Fatalf("%s in zero-knowledge mode: %d %s", path, r.Status, r.Body)
		}
		gotSealed, _ := base64.StdEncoding.DecodeString(str(r.JSON["recoveryWrappedMk"]))
		gotIV, _ := base64.StdEncoding.DecodeString(str(r.JSON["recoveryIv"]))
		opened, err := newGCM(t, recoveryKey(t, code)).Open(nil, gotIV, gotSealed, nil)
		if err != nil || !bytes.Equal(opened, mk) {
			t.Fatalf("%s: recovery wrap does not open to the key: %v", path, err)
		}
	}
	if st := c.Do("GET", base+"/status", nil); st.JSON["zeroKnowledge"] != true {
		t.Errorf("status: %s", st.Body)
	}

	wantError(t, c.Do("POST", base+"/rotate", nil), 409, "ZK_ROTATE_FORBIDDEN")
	wantError(t, c.Do("DELETE", base+"/recovery-wrap", nil), 409, "ZK_ACTIVE")
	for name, body := range map[string]any{
		"missing":   map[string]any{"enable": false},
		"null":      map[string]any{"enable": false, "masterKey": nil},
		"not b64":   map[string]any{"enable": false, "masterKey": "%%%"},
		"31 bytes":  map[string]any{"enable": false, "masterKey": b64(mk[:31])},
		"wrong key": map[string]any{"enable": false, "masterKey": b64(make([]byte, 32))},
	} {
		r := c.Do("POST", base+"/zero-knowledge", body)
		if r.Status != 400 || r.Code() != "INVALID_MASTER_KEY" {
			t.Errorf("disable with %s key: %d %s", name, r.Status, r.Body)
		}
	}
	if st := c.Do("GET", base+"/status", nil); st.JSON["zeroKnowledge"] != true {
		t.Fatal("a bad disable turned zero-knowledge off")
	}

	off := c.Do("POST", base+"/zero-knowledge", map[string]any{"enable": false,
		"masterKey": b64(mk)})
	if off.Status != 200 || off.JSON["zeroKnowledge"] != false {
		t.Fatalf("disable: %d %s", off.Status, off.Body)
	}
	if got := mustKey(t, c.Do("GET", base+"/key", nil)); !bytes.Equal(got, mk) {
		t.Fatal("/key after disable is not the original key")
	}
	if st := c.Do("GET", base+"/status", nil); st.JSON["zeroKnowledge"] != false ||
		st.JSON["hasRecoveryWrap"] != true {
		t.Errorf("status after disable: %s", st.Body)
	}
	for _, ev := range []string{"vault_recovery_wrap_set", "vault_zero_knowledge_enabled",
		"vault_zero_knowledge_disabled"} {
		if n := count(t, inspect, "SELECT count(*) FROM security_events WHERE "+
			"user_id = $1 AND event = $2", u.ID, ev); n != 1 {
			t.Errorf("security event %s: %d rows", ev, n)
		}
	}
	if n := audits(t, inspect, u.ID, "zero_knowledge_disable", "denied"); n != 5 {
		t.Errorf("denied disable audit rows = %d", n)
	}
}

// TestConcurrentInit: racing /init calls create exactly one key and all
// return it.
func TestConcurrentInit(t *testing.T) {
	_, k := newKEK(t)
	apitest.Each(t, options(k), func(t *testing.T, env *apitest.Env) {
		u := signUp(t, env, "race@example.com")
		const n = 12
		keys := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := u.Bearer(env).Do("POST", base+"/init", nil)
				if r.Status != 200 {
					t.Errorf("init %d: %d %s", i, r.Status, r.Body)
					return
				}
				keys[i] = str(r.JSON["masterKey"])
			}()
		}
		wg.Wait()
		for i := range keys {
			if keys[i] == "" || keys[i] != keys[0] {
				t.Fatalf("init %d returned %q, init 0 %q", i, keys[i], keys[0])
			}
		}
		if c := count(t, env.DB, "SELECT count(*) FROM encryption_vaults "+
			"WHERE user_id = $1", u.ID); c != 1 {
			t.Fatalf("%d vault rows", c)
		}
		if c := audits(t, env.DB, u.ID, "init", "success"); c != n {
			t.Errorf("%d init audit rows, want %d", c, n)
		}
	})
}

// TestWrapBoundToUser: a wrap copied into another user's row does not
// open there; the request fails closed and is audited as an error.
func TestWrapBoundToUser(t *testing.T) {
	_, k := newKEK(t)
	apitest.Each(t, options(k), func(t *testing.T, env *apitest.Env) {
		a, b := signUp(t, env, "a@example.com"), signUp(t, env, "b@example.com")
		amk := mustKey(t, a.C.Do("POST", base+"/init", nil))
		mustKey(t, b.C.Do("POST", base+"/init", nil))
		ctx := context.Background()
		if _, err := env.DB.Exec(ctx, "UPDATE encryption_vaults SET "+
			"wrapped_mk = (SELECT wrapped_mk FROM encryption_vaults WHERE user_id = $1), "+
			"wrap_iv = (SELECT wrap_iv FROM encryption_vaults WHERE user_id = $1) "+
			"WHERE user_id = $2", a.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		r := b.C.Do("GET", base+"/key", nil)
		if r.Status != 500 || bytes.Contains(r.Body, []byte(b64(amk))) {
			t.Fatalf("copied wrap: %d %s", r.Status, r.Body)
		}
		if n := audits(t, env.DB, b.ID, "key", "error"); n != 1 {
			t.Errorf("error audit rows = %d", n)
		}
		if v := opsMetric(t, env.Registry, "key", "error"); v != 1 {
			t.Errorf("metric key/error = %v", v)
		}
		if got := mustKey(t, a.C.Do("GET", base+"/key", nil)); !bytes.Equal(got, amk) {
			t.Error("owner's key changed")
		}
	})
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
