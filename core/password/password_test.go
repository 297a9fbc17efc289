package password

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"
)

const fixturePath = "../../testdata/better-auth-1.7.25.json"

type hashFixture struct {
	Params struct {
		N, R, P int
		DkLen   int `json:"dkLen"`
	} `json:"params"`
	Cases []struct {
		Name                string `json:"name"`
		Password            string `json:"password"`
		PasswordNFKC        string `json:"passwordNFKC"`
		PasswordUTF16Length int    `json:"passwordUTF16Length"`
		PasswordNFKCUTF8Hex string `json:"passwordNFKCUTF8Hex"`
		Hash                string `json:"hash"`
		WrongPassword       string `json:"wrongPassword"`
	} `json:"cases"`
}

func loadFixture(t testing.TB) hashFixture {
	t.Helper()
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	var f struct {
		PasswordHash hashFixture `json:"passwordHash"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("decoding fixture: %v", err)
	}
	if len(f.PasswordHash.Cases) == 0 {
		t.Fatal("fixture has no passwordHash cases")
	}
	return f.PasswordHash
}

var hashRE = regexp.MustCompile(`^[0-9a-f]{32}:[0-9a-f]{128}$`)

func TestFixtureParams(t *testing.T) {
	p := loadFixture(t).Params
	if p.N != costN || p.R != costR || p.P != costP || p.DkLen != keyLen {
		t.Fatalf("fixture params %+v differ from ours", p)
	}
}

func TestVerifyFixture(t *testing.T) {
	f := loadFixture(t)
	h := New(Options{})
	ctx := context.Background()

	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			if !hashRE.MatchString(c.Hash) {
				t.Errorf("fixture hash %q has an unexpected shape", c.Hash)
			}
			if got := norm.NFKC.String(c.Password); got != c.PasswordNFKC {
				t.Errorf("NFKC = %q, Better Auth %q", got, c.PasswordNFKC)
			}
			got := hex.EncodeToString([]byte(c.PasswordNFKC))
			if got != c.PasswordNFKCUTF8Hex {
				t.Errorf("UTF-8 of NFKC = %s, fixture %s", got, c.PasswordNFKCUTF8Hex)
			}
			if got := utf16Len(c.Password); got != c.PasswordUTF16Length {
				t.Errorf("utf16Len = %d, JavaScript %d", got, c.PasswordUTF16Length)
			}

			for _, pw := range []struct {
				label, pw string
				want      bool
			}{
				{"password", c.Password, true},
				{"passwordNFKC", c.PasswordNFKC, true},
				{"wrongPassword", c.WrongPassword, false},
			} {
				ok, err := h.Verify(ctx, c.Hash, pw.pw)
				if err != nil || ok != pw.want {
					t.Errorf("Verify(%s) = %v, %v; want %v", pw.label, ok, err, pw.want)
				}
			}
		})
	}
}

func TestHashRoundTrip(t *testing.T) {
	h := New(Options{})
	ctx := context.Background()
	const pw = "Ｐａｓｓﬁ café 🔑 x²"

	a, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.Hash(ctx, pw)
	if !hashRE.MatchString(a) || len(a) != hashSize {
		t.Fatalf("Hash = %q, not Better Auth's shape", a)
	}
	if a == b {
		t.Error("two hashes of one password are equal: salt not random")
	}

	for _, c := range []struct {
		pw   string
		want bool
	}{
		{pw, true},
		{norm.NFKC.String(pw), true}, // "Passfi café 🔑 x2"
		{"Passfi café 🔑 x3", false},
		{"", false},
	} {
		ok, err := h.Verify(ctx, a, c.pw)
		if err != nil || ok != c.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", c.pw, ok, err, c.want)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := New(Options{})
	var started atomic.Int32
	h.onStart = func() { started.Add(1) }
	salt := strings.Repeat("a", 32)
	key := strings.Repeat("0", 128)

	cases := map[string]string{
		"empty":         "",
		"no colon":      salt + key,
		"empty salt":    ":" + key,
		"empty key":     salt + ":",
		"short key":     salt + ":" + key[1:],
		"long key":      salt + ":" + key + "0",
		"non-hex key":   salt + ":" + "zz" + key[2:],
		"extra field":   salt + ":" + key + ":x",
		"salt too long": strings.Repeat("a", 65) + ":" + key,
		"bcrypt":        "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
	}
	for name, stored := range cases {
		t.Run(name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), stored, "password")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify = %v, %v; want false, ErrMalformedHash", ok, err)
			}
		})
	}
	if n := started.Load(); n != 0 {
		t.Errorf("%d hashes ran for malformed values", n)
	}
}

func TestVerifyDummy(t *testing.T) {
	h := New(Options{})
	var started atomic.Int32
	h.onStart = func() { started.Add(1) }

	if _, _, err := parse(dummyHash); err != nil {
		t.Fatalf("dummy hash is malformed: %v", err)
	}
	h.VerifyDummy(context.Background(), "whatever-password")
	if started.Load() != 1 {
		t.Fatalf("VerifyDummy ran %d hashes, want 1", started.Load())
	}
}

// TestConcurrencyBound fires 200 hashes at a Hasher allowing 4. Every hash
// samples InFlight inside its slot; the slots are first held shut until 4
// are taken, so a broken bound would let more in and show up in the sample.
func TestConcurrencyBound(t *testing.T) {
	const limit, burst = 4, 200
	h := New(Options{MaxConcurrent: limit})
	h.n = 16 // cheap scrypt: this test is about the semaphore

	var peak atomic.Int64
	var entered atomic.Int64
	gate := make(chan struct{})
	full := make(chan struct{})
	h.onStart = func() {
		cur := int64(h.InFlight())
		for {
			old := peak.Load()
			if cur <= old || peak.CompareAndSwap(old, cur) {
				break
			}
		}
		if entered.Add(1) == limit {
			close(full)
		}
		<-gate
	}

	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for range burst {
		wg.Go(func() {
			out, err := h.Hash(context.Background(), "burst-password")
			if err == nil && !hashRE.MatchString(out) {
				err = errors.New("bad hash " + out)
			}
			errs <- err
		})
	}

	<-full
	if got := h.InFlight(); got != limit {
		t.Errorf("InFlight with every slot held = %d, want %d", got, limit)
	}
	close(gate)
	wg.Wait()
	close(errs)

	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := peak.Load(); got != limit {
		t.Errorf("peak concurrent hashes = %d, want exactly %d", got, limit)
	}
	if got := entered.Load(); got != burst {
		t.Errorf("%d hashes ran, want %d", got, burst)
	}
	if got := h.InFlight(); got != 0 {
		t.Errorf("InFlight after the burst = %d", got)
	}
}

func TestContextWhileWaiting(t *testing.T) {
	h := New(Options{MaxConcurrent: 1})
	h.n = 16
	holding := make(chan struct{})
	release := make(chan struct{})
	var first sync.Once
	h.onStart = func() {
		first.Do(func() {
			close(holding)
			<-release
		})
	}

	done := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "holds-the-only-slot")
		done <- err
	}()
	<-holding

	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() {
		_, err := h.Verify(ctx, dummyHash, "waits")
		waiting <- err
	}()
	cancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter got %v, want context.Canceled", err)
	}

	short, stop := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer stop()
	if _, err := h.Hash(short, "times-out"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter past its deadline got %v", err)
	}

	dead, kill := context.WithCancel(context.Background())
	kill()
	close(release) // the slot is free now, but a dead context still fails
	if _, err := h.Hash(dead, "already-cancelled"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context got %v", err)
	}

	if err := <-done; err != nil {
		t.Fatalf("slot holder failed: %v", err)
	}
	if _, err := h.Hash(context.Background(), "after"); err != nil {
		t.Fatalf("slot not released after cancellations: %v", err)
	}
}

func BenchmarkHash(b *testing.B) {
	h := New(Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := New(Options{})
	ctx := context.Background()
	stored, _ := h.Hash(ctx, "correct horse battery staple")
	b.ReportAllocs()
	for b.Loop() {
		ok, err := h.Verify(ctx, stored, "correct horse battery staple")
		if !ok || err != nil {
			b.Fatal("verify failed")
		}
	}
}
