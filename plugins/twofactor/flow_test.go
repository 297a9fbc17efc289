package twofactor_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/twofactor"
	"github.com/mana/mana-auth/transport"
)

var (
	backupShape = regexp.MustCompile(`^[A-Za-z0-9]{5}-[A-Za-z0-9]{5}$`)
	sixDigits   = regexp.MustCompile(`\b\d{6}\b`)
	challengeSC = regexp.MustCompile(`^mana\.two_factor=2fa-[A-Za-z0-9_-]{20}\.[^;]+; ` +
		`Max-Age=600; Path=/; HttpOnly; SameSite=Lax$`)
	trustSC = regexp.MustCompile(`^mana\.trust_device=[A-Za-z0-9_-]{43}!` +
		`trust-device-[A-Za-z0-9_-]{32}\.[^;]+; Max-Age=2592000; Path=/; HttpOnly; ` +
		`SameSite=Lax$`)
)

func TestEnableVerifySignInFlow(t *testing.T) {
	each(t, nil, func(t *testing.T, h *harness) {
		ctx := context.Background()
		c := h.Client()
		up := c.SignUp("ann@example.com", pw, "Ann")
		uid := userOf(up)["id"].(string)
		if userOf(up)["twoFactorEnabled"] != false {
			t.Fatalf("new user: %s", up.Body)
		}

		r := tf(c, "enable", password(pw))
		if r.Status != 200 || r.JSON["method"] != "totp" {
			t.Fatalf("enable: %d %s", r.Status, r.Body)
		}
		uri := r.JSON["totpURI"].(string)
		if !strings.HasPrefix(uri, "otpauth://totp/mana:ann%40example.com?secret=") ||
			!strings.HasSuffix(uri, "&issuer=mana&digits=6&period=30") {
			t.Errorf("totpURI = %s", uri)
		}
		key := keyFromURI(t, uri)
		codes := r.JSON["backupCodes"].([]any)
		if len(codes) != 10 {
			t.Fatalf("backup codes: %v", codes)
		}
		for _, bc := range codes {
			if !backupShape.MatchString(bc.(string)) {
				t.Errorf("backup code %v", bc)
			}
		}
		// Stored encrypted, never in clear.
		var secretCT, codesCT string
		if err := h.DB.QueryRow(ctx, "SELECT secret, backup_codes FROM two_factors "+
			"WHERE user_id = $1", uid).Scan(&secretCT, &codesCT); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(codesCT, codes[0].(string)) || len(secretCT) != 144 {
			t.Errorf("stored secret %d chars, codes in clear", len(secretCT))
		}
		plain, err := h.Engine.Secrets.Decrypt(secretCT)
		if err != nil || string(key) != plain {
			t.Errorf("stored secret does not decrypt to the URI's key: %v", err)
		}

		// Not active before the first verification: sign-in is not challenged.
		if u := userOf(session(c)); u["twoFactorEnabled"] != false {
			t.Fatalf("enabled before verification: %v", u)
		}
		early := h.Client().SignIn("ann@example.com", pw)
		if early.JSON["twoFactorRedirect"] != nil {
			t.Fatalf("challenged before verification: %s", early.Body)
		}

		expectErr(t, tf(c, "verify-totp", codeReq("000000")), 401, "INVALID_CODE",
			"wrong code")
		v := tf(c, "verify-totp", codeReq(h.code(key, 0)))
		if v.Status != 200 || userOf(v)["twoFactorEnabled"] != true {
			t.Fatalf("verify-totp: %d %s", v.Status, v.Body)
		}
		if u := userOf(session(c)); u["twoFactorEnabled"] != true {
			t.Fatalf("get-session after enabling: %v", u)
		}
		expectOK(t, c.Do("POST", "/api/auth/sign-out", map[string]any{}), "sign-out")
		before := h.sessions(t, uid)

		// Sign-in: a challenge, no session, and no session cookie at all.
		c2 := h.Client()
		in := c2.SignIn("ann@example.com", pw)
		if in.Status != 200 || in.JSON["twoFactorRedirect"] != true {
			t.Fatalf("sign-in: %d %s", in.Status, in.Body)
		}
		if m := in.JSON["twoFactorMethods"].([]any); len(m) != 1 || m[0] != "totp" {
			t.Errorf("methods = %v", m)
		}
		if _, has := in.JSON["token"]; has {
			t.Errorf("token in challenge: %s", in.Body)
		}
		sc := in.Header.Values("Set-Cookie")
		if len(sc) != 1 || !challengeSC.MatchString(sc[0]) {
			t.Fatalf("Set-Cookie = %q", sc)
		}
		if n := h.sessions(t, uid); n != before {
			t.Fatalf("sessions %d -> %d before the second factor", before, n)
		}
		if g := session(c2); string(g.Body) != "null\n" {
			t.Fatalf("session before the second factor: %s", g.Body)
		}

		// The enrolment's code (same step) is refused: it was used.
		rep := tf(c2, "verify-totp", codeReq(h.code(key, 0)))
		expectErr(t, rep, 401, "INVALID_CODE", "replayed enrolment code")
		if len(setCookies(rep)) != 0 {
			t.Errorf("cookies on a failure: %v", rep.Header.Values("Set-Cookie"))
		}
		h.clk.Advance(30 * time.Second)
		ok := tf(c2, "verify-totp", codeReq(h.code(key, 0)))
		if ok.Status != 200 || ok.JSON["token"] == nil {
			t.Fatalf("verify-totp: %d %s", ok.Status, ok.Body)
		}
		cs := setCookies(ok)
		if !strings.Contains(cs["mana.session_token"], "Max-Age=604800") ||
			!strings.Contains(cs["mana.two_factor"], "Max-Age=0") {
			t.Errorf("cookies = %v", ok.Header.Values("Set-Cookie"))
		}
		if ok.Header.Get("Cache-Control") != "no-store" {
			t.Error("verify response is cacheable")
		}
		g := session(c2)
		if g.JSON["session"].(map[string]any)["token"] != ok.JSON["token"] {
			t.Fatalf("get-session: %s", g.Body)
		}
		// The challenge is gone: its cookie cannot mint a second session.
		again := h.Client()
		again.Cookies["mana.two_factor"] = strings.TrimPrefix(strings.Split(sc[0], ";")[0],
			"mana.two_factor=")
		h.clk.Advance(30 * time.Second)
		expectErr(t, tf(again, "verify-totp", codeReq(h.code(key, 0))), 401,
			"INVALID_TWO_FACTOR_COOKIE", "used challenge")

		evs := h.securityEvents(t, uid)
		for _, want := range []string{"two_factor_enable/pending", "two_factor_enable/success",
			"two_factor_verify/failure", "two_factor_verify/success", "sign_in/challenge"} {
			if !contains(evs, want) {
				t.Errorf("security log lacks %s: %v", want, evs)
			}
		}
	})
}

func TestTOTPReplayRefused(t *testing.T) {
	each(t, nil, func(t *testing.T, h *harness) {
		u := h.enrol(t, "ben@example.com")
		now := h.code(u.key, 0)
		expectOK(t, tf(h.challenge(t, u.email), "verify-totp", codeReq(now)), "first use")
		// Same code, still inside its window, on a new challenge.
		b := h.challenge(t, u.email)
		expectErr(t, tf(b, "verify-totp", codeReq(now)), 401, "INVALID_CODE", "replay")
		// An older step is refused too once a later one was used.
		expectErr(t, tf(b, "verify-totp", codeReq(h.code(u.key, -1))), 401, "INVALID_CODE",
			"older step")
		expectOK(t, tf(b, "verify-totp", codeReq(h.code(u.key, 1))), "next step")

		// Challenges racing with one fresh code: one session.
		h.clk.Advance(90 * time.Second)
		const n = 6
		clients := make([]*apitest.Client, n)
		for i := range clients {
			clients[i] = h.challenge(t, u.email)
		}
		got := race(clients, "verify-totp", codeReq(h.code(u.key, 0)))
		if got[200] != 1 || got[401] != n-1 {
			t.Fatalf("raced code: statuses %v", got)
		}
	})
}

// race sends the same request from every client at once and counts statuses.
func race(clients []*apitest.Client, path string, body any) map[int]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	start := make(chan struct{})
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := tf(c, path, body)
			mu.Lock()
			got[r.Status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return got
}

func TestBackupCodes(t *testing.T) {
	each(t, nil, func(t *testing.T, h *harness) {
		ctx := context.Background()
		u := h.enrol(t, "cleo@example.com")
		r := tf(h.challenge(t, u.email), "verify-backup-code", codeReq(u.backup[0]))
		if r.Status != 200 || r.JSON["token"] == nil {
			t.Fatalf("backup code: %d %s", r.Status, r.Body)
		}
		if !strings.Contains(setCookies(r)["mana.session_token"], "Max-Age=604800") {
			t.Errorf("no session cookie: %v", r.Header.Values("Set-Cookie"))
		}
		expectErr(t, tf(h.challenge(t, u.email), "verify-backup-code", codeReq(u.backup[0])),
			401, "INVALID_BACKUP_CODE", "second use")

		// One code raced from several challenges: accepted once.
		const n = 6
		clients := make([]*apitest.Client, n)
		for i := range clients {
			clients[i] = h.challenge(t, u.email)
		}
		got := race(clients, "verify-backup-code", codeReq(u.backup[1]))
		if got[200] != 1 || got[401] != n-1 {
			t.Fatalf("raced backup code: %v", got)
		}
		// Different codes at once all work (the compare-and-swap retries).
		for i := range clients {
			clients[i] = h.challenge(t, u.email)
		}
		var wg sync.WaitGroup
		statuses := make([]int, 4)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := tf(clients[i], "verify-backup-code", codeReq(u.backup[2+i]))
				statuses[i] = r.Status
			}()
		}
		wg.Wait()
		if !slices.Equal(statuses, []int{200, 200, 200, 200}) {
			t.Errorf("distinct codes at once: %v", statuses)
		}

		// The signed-in user raced with one code: once.
		got = race([]*apitest.Client{u.c, h.clone(u.c), h.clone(u.c)},
			"verify-backup-code", codeReq(u.backup[6]))
		if got[200] != 1 || got[401] != 2 {
			t.Fatalf("session race: %v", got)
		}

		exp, err := h.p.ExportUserData(ctx, h.DB, u.id)
		if err != nil {
			t.Fatal(err)
		}
		e := exp.(twofactor.Export)
		if !e.Enabled || !e.Verified || e.BackupCodesRemaining != 3 {
			t.Errorf("export = %+v", e)
		}
		if evs := h.securityEvents(t, u.id); !contains(evs, "two_factor_backup_code/used") {
			t.Errorf("no backup-code event: %v", evs)
		}

		// Regenerating replaces them all.
		g := tf(u.c, "generate-backup-codes", password(pw))
		expectOK(t, g, "generate-backup-codes")
		if g.JSON["status"] != true || len(g.JSON["backupCodes"].([]any)) != 10 {
			t.Fatalf("generate: %d %s", g.Status, g.Body)
		}
		c := h.challenge(t, u.email)
		expectErr(t, tf(c, "verify-backup-code", codeReq(u.backup[9])), 401,
			"INVALID_BACKUP_CODE", "old code after regeneration")
		fresh := g.JSON["backupCodes"].([]any)[0].(string)
		expectOK(t, tf(c, "verify-backup-code", codeReq(fresh)), "new code")
	})
}

func TestChallengeAttemptLimit(t *testing.T) {
	set := twofactor.DefaultSettings()
	each(t, &set, func(t *testing.T, h *harness) {
		u := h.enrol(t, "dan@example.com")
		c := h.challenge(t, u.email)
		cookie := c.Cookies["mana.two_factor"]
		for i := 0; i < twofactor.ChallengeAttempts; i++ {
			expectErr(t, tf(c, "verify-totp", codeReq("000000")), 401, "INVALID_CODE",
				"attempt")
		}
		r := tf(c, "verify-totp", codeReq(h.code(u.key, 0)))
		expectErr(t, r, 400, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE", "over the limit")
		if !strings.Contains(setCookies(r)["mana.two_factor"], "Max-Age=0") {
			t.Errorf("two_factor not expired: %v", r.Header.Values("Set-Cookie"))
		}
		// The challenge is dead for every factor, even with the right code.
		c.Cookies["mana.two_factor"] = cookie
		expectErr(t, tf(c, "verify-totp", codeReq(h.code(u.key, 0))), 401,
			"INVALID_TWO_FACTOR_COOKIE", "TOTP on a burned challenge")
		expectErr(t, tf(c, "verify-backup-code", codeReq(u.backup[0])), 401,
			"INVALID_TWO_FACTOR_COOKIE", "backup code on a burned challenge")
		if n := h.sessions(t, u.id); n != 1 {
			t.Errorf("sessions = %d, want only the enrolment one", n)
		}
		// A new sign-in starts afresh.
		expectOK(t, tf(h.challenge(t, u.email), "verify-totp", codeReq(h.code(u.key, 0))),
			"new challenge")
	})
}

func TestAccountLockout(t *testing.T) {
	set := twofactor.DefaultSettings()
	set.LockoutThreshold = 7
	each(t, &set, func(t *testing.T, h *harness) {
		u := h.enrol(t, "eve@example.com")
		// Failures count across challenges and factors: 4 + 3 reach it.
		for _, tries := range []int{4, 3} {
			c := h.challenge(t, u.email)
			for i := 0; i < tries; i++ {
				path, guess := "verify-totp", "111111"
				if i%2 == 1 {
					path, guess = "verify-backup-code", "aaaaa-bbbbb"
				}
				if r := tf(c, path, codeReq(guess)); r.Status != 401 {
					t.Fatalf("failure: %d %s", r.Status, r.Body)
				}
			}
		}
		// Locked: the right code and a backup code are refused, on a
		// challenge and for the signed-in user.
		c := h.challenge(t, u.email)
		for _, tc := range []struct {
			c    *apitest.Client
			path string
			code string
		}{
			{c, "verify-totp", h.code(u.key, 0)},
			{c, "verify-backup-code", u.backup[0]},
			{u.c, "verify-totp", h.code(u.key, 0)},
		} {
			r := tf(tc.c, tc.path, codeReq(tc.code))
			expectErr(t, r, 429, "ACCOUNT_TEMPORARILY_LOCKED", tc.path+" while locked")
			if r.Header.Get("X-Retry-After") == "" {
				t.Error("no X-Retry-After")
			}
		}
		if evs := h.securityEvents(t, u.id); !contains(evs, "two_factor_lockout/locked") {
			t.Errorf("no lockout event: %v", evs)
		}
		// After the lock runs out the right code works and resets the count.
		h.clk.Advance(set.LockoutDuration + time.Second)
		expectOK(t, tf(c, "verify-totp", codeReq(h.code(u.key, 0))), "after the lock")
		var failed int
		var locked *time.Time
		if err := h.DB.QueryRow(context.Background(), "SELECT failed_verification_count, "+
			"locked_until FROM two_factors WHERE user_id = $1", u.id).
			Scan(&failed, &locked); err != nil {
			t.Fatal(err)
		}
		if failed != 0 || locked != nil {
			t.Errorf("after success: failed=%d locked=%v", failed, locked)
		}
	})
}

func TestTrustDevice(t *testing.T) {
	each(t, nil, func(t *testing.T, h *harness) {
		u := h.enrol(t, "fay@example.com")
		c := h.challenge(t, u.email)
		r := tf(c, "verify-totp",
			map[string]any{"code": h.code(u.key, 0), "trustDevice": true})
		expectOK(t, r, "verify")
		if td := setCookies(r)["mana.trust_device"]; !trustSC.MatchString(td) {
			t.Fatalf("trust_device = %q", td)
		}
		first := c.Cookies["mana.trust_device"]
		c.Do("POST", "/api/auth/sign-out", map[string]any{})

		// The trusted device signs in without a challenge; the cookie rotates.
		in := c.SignIn(u.email, pw)
		if in.Status != 200 || in.JSON["twoFactorRedirect"] != nil || in.JSON["token"] == nil {
			t.Fatalf("trusted sign-in: %d %s", in.Status, in.Body)
		}
		second := c.Cookies["mana.trust_device"]
		if second == "" || second == first {
			t.Fatalf("trust_device not rotated: %q", second)
		}
		if n := h.trustRecords(t, u.id); n != 1 {
			t.Fatalf("trust records = %d", n)
		}
		// The old cookie is spent.
		old := h.Client()
		old.Cookies["mana.trust_device"] = first
		if r := old.SignIn(u.email, pw); r.JSON["twoFactorRedirect"] != true {
			t.Fatalf("rotated-away cookie still trusted: %s", r.Body)
		}
		// Another user's sign-in is challenged despite this device's cookie.
		o := h.enrol(t, "gus@example.com")
		other := h.Client()
		other.Cookies["mana.trust_device"] = second
		if r := other.SignIn(o.email, pw); r.JSON["twoFactorRedirect"] != true {
			t.Fatalf("cookie trusted for another user: %s", r.Body)
		}
		// Disabling 2FA forgets the device and expires the cookie.
		d := tf(u.c, "disable", password(pw))
		if d.Status != 200 || d.JSON["status"] != true ||
			!strings.Contains(setCookies(d)["mana.trust_device"], "Max-Age=0") {
			t.Fatalf("disable: %d %s %v", d.Status, d.Body, d.Header.Values("Set-Cookie"))
		}
		if n := h.trustRecords(t, u.id); n != 0 {
			t.Fatalf("trust records after disable = %d", n)
		}
	})
}

// trustRecords counts a user's trusted devices.
func (h *harness) trustRecords(t *testing.T, userID string) int {
	t.Helper()
	var n int
	if err := h.DB.QueryRow(context.Background(), "SELECT COUNT(*) FROM verifications "+
		"WHERE identifier LIKE 'trust-device-%' AND value = $1", userID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEmailOTP(t *testing.T) {
	each(t, nil, func(t *testing.T, h *harness) {
		c := h.Client()
		uid := userOf(c.SignUp("hal@example.com", pw, "Hal"))["id"].(string)
		r := tf(c, "enable", map[string]any{"password": pw, "method": "otp"})
		if r.Status != 200 || r.JSON["method"] != "otp" {
			t.Fatalf("enable otp: %d %s", r.Status, r.Body)
		}
		if u := userOf(session(c)); u["twoFactorEnabled"] != true {
			t.Fatalf("not enabled: %v", u)
		}
		in := h.Client()
		s := in.SignIn("hal@example.com", pw)
		if m := s.JSON["twoFactorMethods"].([]any); len(m) != 1 || m[0] != "otp" {
			t.Fatalf("methods = %s", s.Body)
		}
		expectErr(t, tf(in, "verify-otp", codeReq("123456")), 400, "OTP_HAS_EXPIRED",
			"before any code was sent")
		if r := tf(in, "send-otp", nil); r.Status != 200 || r.JSON["status"] != true {
			t.Fatalf("send-otp: %d %s", r.Status, r.Body)
		}
		otp := sixDigits.FindString(h.WaitMail("hal@example.com").Text)
		if otp == "" {
			t.Fatal("no code in the mail")
		}
		var stored string
		if err := h.DB.QueryRow(context.Background(), "SELECT value FROM verifications "+
			"WHERE identifier LIKE '2fa-otp-2fa-%'").Scan(&stored); err != nil ||
			strings.Contains(stored, otp) {
			t.Fatalf("otp stored as %q, %v", stored, err)
		}
		expectErr(t, tf(in, "verify-otp", codeReq(wrong(otp, 0))), 401, "INVALID_CODE",
			"wrong otp")
		ok := tf(in, "verify-otp", codeReq(otp))
		if ok.Status != 200 || ok.JSON["token"] == nil ||
			!strings.Contains(setCookies(ok)["mana.session_token"], "Max-Age=") {
			t.Fatalf("verify-otp: %d %s", ok.Status, ok.Body)
		}
		// A used code does not open the next challenge.
		again := h.Client()
		again.SignIn("hal@example.com", pw)
		expectErr(t, tf(again, "verify-otp", codeReq(otp)), 400, "OTP_HAS_EXPIRED",
			"reused otp")

		// An emailed code allows OTPAttempts guesses, then it is gone (the
		// signed-in path, which has no per-challenge cap).
		expectOK(t, tf(c, "send-otp", nil), "send-otp with a session")
		otp = sixDigits.FindString(h.WaitMail("hal@example.com").Text)
		var statuses []int
		for i := 0; i < twofactor.OTPAttempts+1; i++ {
			statuses = append(statuses, tf(c, "verify-otp", codeReq(wrong(otp, i))).Status)
		}
		if want := []int{401, 401, 401, 401, 401, 400}; !slices.Equal(statuses, want) {
			t.Errorf("guesses: %v, want %v", statuses, want)
		}
		expectErr(t, tf(c, "verify-otp", codeReq(otp)), 400, "OTP_HAS_EXPIRED",
			"code after too many guesses")
		if evs := h.securityEvents(t, uid); !contains(evs, "two_factor_otp_sent/success") {
			t.Errorf("events %v", evs)
		}

		// A TOTP user is not offered (and cannot use) the emailed code.
		tu := h.enrol(t, "ida@example.com")
		expectErr(t, tf(h.challenge(t, tu.email), "send-otp", nil), 400, "OTP_NOT_ENABLED",
			"send-otp for a TOTP user")
	})
}

// wrong returns a code that differs from code in digit i.
func wrong(code string, i int) string {
	b := []byte(code)
	b[i] = '0' + (b[i]-'0'+1)%10
	return string(b)
}

func TestEndpointErrors(t *testing.T) {
	each(t, nil, func(t *testing.T, h *harness) {
		anon := h.Client()
		for _, path := range []string{"enable", "disable", "get-totp-uri",
			"generate-backup-codes"} {
			expectErr(t, tf(anon, path, password(pw)), 401, "UNAUTHORIZED", path)
		}
		for _, path := range []string{"verify-totp", "verify-otp", "verify-backup-code"} {
			expectErr(t, tf(anon, path, codeReq("123456")), 401, "INVALID_TWO_FACTOR_COOKIE",
				path+" without cookie")
		}
		forged := h.Client()
		forged.Cookies["mana.two_factor"] = "2fa-AAAAAAAAAAAAAAAAAAAA." +
			"bm90LWEtc2lnbmF0dXJlLW5vdC1hLXNpZ25hdHVyZS0%3D"
		expectErr(t, tf(forged, "verify-totp", codeReq("123456")), 401,
			"INVALID_TWO_FACTOR_COOKIE", "forged cookie")
		expectErr(t, tf(forged, "verify-totp", map[string]any{}), 400, "VALIDATION_ERROR",
			"no code")

		c := h.Client()
		c.SignUp("jo@example.com", pw, "Jo")
		bad := password("nope-nope-nope")
		cases := []struct {
			name, path string
			body       map[string]any
			status     int
			code       string
		}{
			{"wrong password", "enable", bad, 400, "INVALID_PASSWORD"},
			{"no password", "enable", map[string]any{}, 400, "VALIDATION_ERROR"},
			{"bad method", "enable", map[string]any{"password": pw, "method": "sms"},
				400, "VALIDATION_ERROR"},
			{"uri before enrolment", "get-totp-uri", password(pw), 400, "TOTP_NOT_ENABLED"},
			{"codes while disabled", "generate-backup-codes", password(pw),
				400, "TWO_FACTOR_NOT_ENABLED"},
			{"totp before enrolment", "verify-totp", codeReq("123456"),
				400, "TOTP_NOT_ENABLED"},
			{"backup before enrolment", "verify-backup-code", codeReq("aaaaa-bbbbb"),
				400, "BACKUP_CODES_NOT_ENABLED"},
			{"disable wrong password", "disable", bad, 400, "INVALID_PASSWORD"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				expectErr(t, tf(c, tc.path, tc.body), tc.status, tc.code, tc.name)
			})
		}

		u := h.enrol(t, "kay@example.com")
		expectErr(t, tf(u.c, "enable", password(pw)), 400, "TOTP_ALREADY_ENABLED",
			"enable twice")
		uri := tf(u.c, "get-totp-uri", password(pw))
		expectOK(t, uri, "get-totp-uri")
		if string(keyFromURI(t, uri.JSON["totpURI"].(string))) != string(u.key) {
			t.Errorf("get-totp-uri: %s", uri.Body)
		}
		// Disable: no more challenge, row gone.
		expectOK(t, tf(u.c, "disable", password(pw)), "disable")
		if in := h.Client().SignIn(u.email, pw); in.Status != 200 || in.JSON["token"] == nil {
			t.Fatalf("sign-in after disable: %d %s", in.Status, in.Body)
		}
		if evs := h.securityEvents(t, u.id); !contains(evs, "two_factor_disable/success") {
			t.Errorf("no disable event: %v", evs)
		}
	})
}

func TestSkipVerificationOnEnable(t *testing.T) {
	set := twofactor.DefaultSettings()
	set.SkipVerificationOnEnable = true
	each(t, &set, func(t *testing.T, h *harness) {
		c := h.Client()
		c.SignUp("lea@example.com", pw, "Lea")
		r := tf(c, "enable", map[string]any{"password": pw, "issuer": "Acme Co"})
		expectOK(t, r, "enable")
		uri := r.JSON["totpURI"].(string)
		if !strings.HasPrefix(uri, "otpauth://totp/Acme%20Co:") ||
			!strings.Contains(uri, "&issuer=Acme+Co&") {
			t.Fatalf("totpURI %s", uri)
		}
		in := h.Client().SignIn("lea@example.com", pw)
		if in.JSON["twoFactorRedirect"] != true {
			t.Fatalf("not challenged: %s", in.Body)
		}
	})
}

// apiCode returns the code of an *core.APIError, or "".
func apiCode(err error) string {
	if ae, ok := core.AsAPIError(err); ok {
		return ae.Code
	}
	return ""
}

func TestChallengeVerifierByToken(t *testing.T) {
	each(t, nil, func(t *testing.T, h *harness) {
		ctx := context.Background()
		u := h.enrol(t, "max@example.com")
		req := func() *core.Request {
			return &core.Request{HTTP: httptestRequest(), ClientIP: "192.0.2.1",
				UserAgent: "v1-test"}
		}
		res, err := h.Engine.SignInPassword(ctx, req(), u.email, pw, true)
		if err != nil || res.Challenge == nil || res.Session != nil {
			t.Fatalf("v1 sign-in: %+v, %v", res, err)
		}
		tok := res.Challenge.Token
		cv := h.Engine.ChallengeVerifier()
		if cv == nil {
			t.Fatal("no ChallengeVerifier")
		}
		verify := func(in core.ChallengeInput) (*core.SignInResult, error) {
			return cv.VerifyChallenge(ctx, req(), in)
		}
		for _, tc := range []struct {
			name string
			in   core.ChallengeInput
			code string
		}{
			{"wrong code", core.ChallengeInput{Token: tok, Method: "totp", Code: "000000"},
				"INVALID_CODE"},
			{"bad token", core.ChallengeInput{Token: "2fa-nope", Method: "totp", Code: "1"},
				"INVALID_TWO_FACTOR_COOKIE"},
			{"bad method", core.ChallengeInput{Token: tok, Method: "sms", Code: "1"},
				"VALIDATION_ERROR"},
		} {
			if _, err := verify(tc.in); apiCode(err) != tc.code {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		done, err := verify(core.ChallengeInput{Token: tok, Method: "totp",
			Code: h.code(u.key, 0), TrustDevice: true})
		if err != nil || done.Session == nil || done.User.ID != u.id {
			t.Fatalf("verify by token: %+v, %v", done, err)
		}
		var trust bool
		for _, c := range done.Cookies {
			trust = trust || c.Name == "mana.trust_device"
			if c.Name == "mana.two_factor" {
				t.Error("token path expires a cookie it never set")
			}
		}
		if !trust {
			t.Error("no trust_device cookie on request")
		}
		// The token is single-use.
		h.clk.Advance(30 * time.Second)
		_, err = verify(core.ChallengeInput{Token: tok, Method: "totp",
			Code: h.code(u.key, 0)})
		if apiCode(err) != "INVALID_TWO_FACTOR_COOKIE" {
			t.Fatalf("reused token: %v", err)
		}
		// Backup codes work by token too; the signed form is accepted.
		res, _ = h.Engine.SignInPassword(ctx, req(), u.email, pw, false)
		done, err = verify(core.ChallengeInput{Method: "backup", Code: u.backup[0],
			Token: h.Engine.Secrets.SignCookie(res.Challenge.Token)})
		if err != nil || done.Session == nil || !done.Session.DontRemember {
			t.Fatalf("backup by token: %+v, %v", done, err)
		}
		// The emailed code can be requested with the token.
		o := h.Client()
		o.SignUp("ned@example.com", pw, "Ned")
		tf(o, "enable", map[string]any{"password": pw, "method": "otp"})
		res, _ = h.Engine.SignInPassword(ctx, req(), "ned@example.com", pw, true)
		expectOK(t, tf(h.Client(), "send-otp",
			map[string]any{"twoFactorToken": res.Challenge.Token}), "send-otp by token")
		otp := sixDigits.FindString(h.WaitMail("ned@example.com").Text)
		done, err = verify(core.ChallengeInput{Token: res.Challenge.Token, Method: "otp",
			Code: otp})
		if err != nil || done.Session == nil {
			t.Fatalf("otp by token: %v", err)
		}
	})
}

func TestEraseUserData(t *testing.T) {
	each(t, nil, func(t *testing.T, h *harness) {
		ctx := context.Background()
		u := h.enrol(t, "oli@example.com")
		tf(h.challenge(t, u.email), "verify-totp",
			map[string]any{"code": h.code(u.key, 0), "trustDevice": true})
		var n int64
		err := h.DB.Tx(ctx, func(tx db.Tx) error {
			var err error
			n, err = h.p.EraseUserData(ctx, tx, u.id)
			return err
		})
		if err != nil || n != 2 {
			t.Fatalf("erased %d, %v", n, err)
		}
		exp, _ := h.p.ExportUserData(ctx, h.DB, u.id)
		if e := exp.(twofactor.Export); e.Verified || e.BackupCodesRemaining != 0 {
			t.Errorf("export after erase = %+v", e)
		}
		if h.p.UserDataSection() != "twoFactor" {
			t.Error("section")
		}
	})
}

func TestRateLimitRule(t *testing.T) {
	p := twofactor.New(&core.Config{BasePath: "/api/auth"})
	lim := transport.NewLimiter(transport.NewMemoryCounter(),
		core.RateRule{Pattern: "*", Window: 10 * time.Second, Max: 100},
		append(p.RateLimits(), transport.DefaultRules("/api/auth")...)...)
	ctx := context.Background()
	for i := 1; i <= 4; i++ {
		ok, _, rule, err := lim.Allow(ctx, "198.51.100.7", "/api/auth/two-factor/verify-totp")
		if err != nil || ok != (i <= 3) || rule != "/api/auth/two-factor/*" {
			t.Fatalf("request %d: ok=%v rule=%s err=%v", i, ok, rule, err)
		}
	}
}

// Only password sign-ins are challenged (reference §9.2): a magic-link or
// other passwordless sign-in of a 2FA user gets its session directly.
func TestGateOnlyPasswordSignIns(t *testing.T) {
	each(t, nil, func(t *testing.T, h *harness) {
		ctx := context.Background()
		u := h.enrol(t, "pat@example.com")
		user, err := h.Engine.UserByID(ctx, h.DB, u.id)
		if err != nil {
			t.Fatal(err)
		}
		req := &core.Request{HTTP: httptestRequest()}
		for _, method := range []string{"magic-link", "two-factor", "social"} {
			res, err := h.Engine.SignIn(ctx, req, user, method, true)
			if err != nil || res.Challenge != nil || res.Session == nil {
				t.Errorf("%s: %+v, %v", method, res, err)
			}
		}
		res, err := h.Engine.SignIn(ctx, req, user, "password", true)
		if err != nil || res.Challenge == nil || res.Session != nil {
			t.Fatalf("password: %+v, %v", res, err)
		}
		if res.Challenge.Token == "" || len(res.Challenge.Cookies) != 1 {
			t.Errorf("challenge %+v", res.Challenge)
		}
	})
}
