package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary compiles mana-auth once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mana-auth-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mana-auth")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startBinary runs the real binary on SQLite and waits until it is healthy.
func startBinary(t *testing.T, extra ...string) (*exec.Cmd, string, *bytes.Buffer) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append([]string{
		"PORT=" + fmt.Sprint(port), "BASE_URL=" + base,
		"DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "a.db"),
		"LOG_LEVEL=info", "PATH=" + os.Getenv("PATH"),
	}, extra...)
	var logs bytes.Buffer
	cmd.Stderr, cmd.Stdout = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ {
		r, err := http.Get(base + "/healthz")
		if err == nil {
			r.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("server did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cmd, base, &logs
}

// TestGracefulShutdown sends SIGTERM while sign-ups (each a slow scrypt
// hash) are in flight: every one completes, then the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	cmd, base, logs := startBinary(t)
	const n = 8
	var wg sync.WaitGroup
	status := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]string{"name": "S",
				"email": fmt.Sprintf("s%d@example.com", i), "password": "vivid-otter-quartz-42"})
			req, _ := http.NewRequest("POST", base+"/api/auth/sign-up/email",
				bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			status[i] = resp.StatusCode
		}()
	}
	time.Sleep(150 * time.Millisecond) // the requests are now being hashed
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || status[i] != 200 {
			t.Errorf("request %d: status %d err %v", i, status[i], errs[i])
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
	if !strings.Contains(logs.String(), "draining") {
		t.Errorf("no drain log line:\n%s", logs.String())
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still accepts connections after shutdown")
	}
}

func TestProductionRefusesWeakConfig(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{
		"no secret": {"NODE_ENV=production", "BASE_URL=https://auth.mana.how",
			"MANA_AUTH_KEK=" + strings.Repeat("A", 43) + "="},
		"no kek": {"NODE_ENV=production", "BASE_URL=https://auth.mana.how",
			"AUTH_SECRET=" + strings.Repeat("s", 40)},
		"http base": {"MANA_ENV=production", "BASE_URL=http://auth.mana.how",
			"AUTH_SECRET=" + strings.Repeat("s", 40)},
	}
	want := map[string]string{"no secret": "AUTH_SECRET", "no kek": "MANA_AUTH_KEK",
		"http base": "BASE_URL"}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, "serve")
			cmd.Env = append(env, "DATABASE_URL=sqlite::memory:")
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), want[name]) {
				t.Errorf("err %v, output %s", err, out)
			}
		})
	}
}

func TestVersionListsPlugins(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, func(string) string { return "" },
		&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "plugins:") {
		t.Errorf("version output: %s", out.String())
	}
}
