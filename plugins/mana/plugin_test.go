package mana_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/mana"
)

// creditsServer is a real HTTP peer standing in for mana-credits: it fails
// the first `failures` calls, then records the users it initialised.
type creditsServer struct {
	mu       sync.Mutex
	failures int
	calls    int
	inited   []string
	keys     []string
}

func (s *creditsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.keys = append(s.keys, r.Header.Get("X-Service-Key"))
	if s.failures > 0 {
		s.failures--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var in struct{ UserID, Email string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	if r.Method != "POST" || r.URL.Path != "/api/v1/internal/users/"+in.UserID+"/init" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.inited = append(s.inited, in.UserID)
	w.WriteHeader(http.StatusCreated)
}

func TestCreditsInitialisedOnSignUp(t *testing.T) {
	cs := &creditsServer{failures: 1}
	srv := httptest.NewServer(cs)
	defer srv.Close()
	apitest.Each(t, apitest.Options{
		Env: map[string]string{"MANA_CREDITS_URL": srv.URL, "MANA_SERVICE_KEY": "svc-key"},
		Plugins: func(cfg *core.Config) []core.Plugin {
			return []core.Plugin{mana.New(cfg)}
		},
	}, func(t *testing.T, env *apitest.Env) {
		cs.mu.Lock()
		cs.failures, cs.calls, cs.inited = 1, 0, nil
		cs.mu.Unlock()
		r := env.Client().SignUp("credits@example.com", "vivid-otter-quartz-42", "C")
		id := r.JSON["user"].(map[string]any)["id"].(string)

		var jobs int
		if err := env.DB.QueryRow(t.Context(), "SELECT count(*) FROM outbox WHERE kind = $1",
			mana.KindInitCredits).Scan(&jobs); err != nil || jobs != 1 {
			t.Fatalf("queued jobs: %d %v", jobs, err)
		}
		// First attempt: mana-credits is down; the job stays, sign-up was fine.
		if _, err := env.Engine.DrainOutbox(t.Context()); err == nil {
			t.Error("a failing call reported no error")
		}
		if _, err := env.DB.Exec(t.Context(), "UPDATE outbox SET next_attempt_at = $1",
			env.Engine.Now()); err != nil {
			t.Fatal(err)
		}
		if n, err := env.Engine.DrainOutbox(t.Context()); err != nil || n != 1 {
			t.Fatalf("retry: %d %v", n, err)
		}
		if err := env.DB.QueryRow(t.Context(), "SELECT count(*) FROM outbox").Scan(&jobs); err != nil ||
			jobs != 0 {
			t.Errorf("jobs left: %d %v", jobs, err)
		}
		m := env.Client().Do("GET", "/metrics", nil)
		for _, want := range []string{
			`mana_auth_outbox_jobs_total{kind="mana.credits.init",outcome="retry"} 1`,
			`mana_auth_outbox_jobs_total{kind="mana.credits.init",outcome="done"} 1`,
		} {
			if !strings.Contains(string(m.Body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.calls != 2 || len(cs.inited) != 1 || cs.inited[0] != id || cs.keys[1] != "svc-key" {
			t.Errorf("credits server saw calls=%d inited=%v keys=%v", cs.calls, cs.inited, cs.keys)
		}
	})
}

func TestNoCreditsURLQueuesNothing(t *testing.T) {
	env := apitest.New(t, apitest.Options{Plugins: func(cfg *core.Config) []core.Plugin {
		return []core.Plugin{mana.New(cfg)}
	}})
	env.Client().SignUp("none@example.com", "vivid-otter-quartz-42", "N")
	var jobs int
	if err := env.DB.QueryRow(t.Context(), "SELECT count(*) FROM outbox").Scan(&jobs); err != nil ||
		jobs != 0 {
		t.Errorf("jobs: %d %v", jobs, err)
	}
}
