package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mana/mana-auth/core/mail"
	"github.com/mana/mana-auth/core/mail/mailtest"
)

const testFrom = "mana <noreply@mana.how>"

func newSender(t *testing.T, host string, port int, user, pass string) *mail.SMTP {
	t.Helper()
	s, err := mail.NewSMTP(mail.SMTPConfig{
		Host: host, Port: port, User: user, Pass: pass,
		From: testFrom, TLS: mail.TLSNone, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return s
}

func senderFor(t *testing.T, srv *mailtest.Server, user, pass string) *mail.SMTP {
	t.Helper()
	host, port := srv.Addr()
	return newSender(t, host, port, user, pass)
}

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSMTPRoundTrip(t *testing.T) {
	cases := []struct {
		name       string
		opts       []mailtest.Option
		user, pass string
	}{
		{"without auth", nil, "", ""},
		{"with auth", []mailtest.Option{mailtest.WithAuth("mailer", "pw-123")},
			"mailer", "pw-123"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.Start(t, tc.opts...)
			s := senderFor(t, srv, tc.user, tc.pass)

			url := "https://auth.mana.how/api/auth/verify-email?token=" +
				strings.Repeat("x", 90) + "&callbackURL=%2Fwelcome"
			m, err := mail.Render(mail.KindVerifyEmail, "Anna@Example.com",
				mail.Data{URL: url, Name: "Anna Müller", ExpiresIn: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(waitCtx(t), m); err != nil {
				t.Fatalf("Send: %v", err)
			}

			r, err := srv.Wait(waitCtx(t), "anna@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if r.User != tc.user || r.TLS {
				t.Errorf("user %q, TLS %v; want %q over plain text", r.User, r.TLS,
					tc.user)
			}
			if r.From != "noreply@mana.how" {
				t.Errorf("envelope from = %q", r.From)
			}
			if r.Header.Get("From") != `"mana" <noreply@mana.how>` &&
				r.Header.Get("From") != testFrom {
				t.Errorf("From header = %q", r.Header.Get("From"))
			}
			if !strings.HasPrefix(r.Header.Get("Content-Type"),
				"multipart/alternative") {
				t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
			}
			if r.Header.Get("Auto-Submitted") != "auto-generated" {
				t.Error("Auto-Submitted header missing")
			}
			if r.Header.Get("Message-Id") == "" || r.Header.Get("Date") == "" {
				t.Error("Message-ID or Date missing")
			}
			if r.Subject != m.Subject {
				t.Errorf("Subject = %q, want %q", r.Subject, m.Subject)
			}
			if trim(r.Text) != trim(m.Text) {
				t.Errorf("Text = %q\nwant %q", r.Text, m.Text)
			}
			if trim(r.HTML) != trim(m.HTML) {
				t.Errorf("HTML differs:\n%s\nwant\n%s", r.HTML, m.HTML)
			}
			if got := mailtest.ExtractURL(r.Text, "https://auth.mana.how/"); got != url {
				t.Errorf("ExtractURL = %q, want %q", got, url)
			}
		})
	}
}

func TestSMTPSendsEveryKind(t *testing.T) {
	srv := mailtest.Start(t)
	s := senderFor(t, srv, "", "")
	d := mail.Data{
		URL: "https://auth.mana.how/x?token=abc", Code: "123456",
		Email: "new@example.com", Name: "Zoë <script>", OrgName: "Acme & Co",
		InviterName: "Bob", ExpiresIn: 10 * time.Minute,
	}

	for _, k := range mail.Kinds {
		to := string(k) + "@example.com"
		m, err := mail.Render(k, to, d)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if err := s.Send(waitCtx(t), m); err != nil {
			t.Fatalf("%s: Send: %v", k, err)
		}
		r, err := srv.Wait(waitCtx(t), to)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if r.Subject != m.Subject || trim(r.Text) != trim(m.Text) ||
			trim(r.HTML) != trim(m.HTML) {
			t.Errorf("%s: received message differs from the rendered one", k)
		}
	}
}

func TestSMTPWrongPassword(t *testing.T) {
	srv := mailtest.Start(t, mailtest.WithAuth("mailer", "right-pw"))
	s := senderFor(t, srv, "mailer", "wrong-pw-4711")

	m := mail.Message{To: "a@example.com", Subject: "s", Text: "secret-body-text"}
	err := s.Send(waitCtx(t), m)
	if err == nil {
		t.Fatal("Send succeeded with a wrong password")
	}
	for _, leak := range []string{"wrong-pw-4711", "right-pw", "secret-body-text"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q contains %q", err, leak)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestSMTPAuthRequired(t *testing.T) {
	srv := mailtest.Start(t, mailtest.WithAuth("mailer", "pw"))
	s := senderFor(t, srv, "", "")
	err := s.Send(waitCtx(t), mail.Message{To: "a@example.com", Text: "x"})
	if err == nil {
		t.Fatal("Send without credentials succeeded on a server requiring AUTH")
	}
}

func TestSMTPRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	s := newSender(t, "127.0.0.1", port, "user", "pw-do-not-leak")
	err = s.Send(waitCtx(t), mail.Message{To: "a@example.com", Text: "body-x"})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("error = %v, want it to wrap ECONNREFUSED", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("error %q does not name the server", msg)
	}
	if strings.Contains(msg, "pw-do-not-leak") || strings.Contains(msg, "body-x") {
		t.Errorf("error %q leaks the password or body", msg)
	}
}

// stalledServer accepts connections and never says a word.
func stalledServer(t *testing.T) (string, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	return "127.0.0.1", addr.Port
}

func TestSMTPHonoursContext(t *testing.T) {
	t.Run("already cancelled", func(t *testing.T) {
		srv := mailtest.Start(t)
		s := senderFor(t, srv, "", "")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Send(ctx, mail.Message{To: "a@example.com", Text: "x"})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("%d messages delivered", n)
		}
	})

	t.Run("stalled server", func(t *testing.T) {
		host, port := stalledServer(t)
		s, err := mail.NewSMTP(mail.SMTPConfig{
			Host: host, Port: port, From: testFrom, TLS: mail.TLSNone,
			Timeout: 30 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}

		ctx, cancel := context.WithTimeout(context.Background(),
			200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = s.Send(ctx, mail.Message{To: "a@example.com", Text: "x"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Send took %v after its context ended", d)
		}
	})
}

func TestSMTPOverTLS(t *testing.T) {
	cases := []struct {
		mode string
		opt  mailtest.Option
	}{
		{mail.TLSStartTLS, mailtest.WithSTARTTLS()},
		{mail.TLSImplicit, mailtest.WithImplicitTLS()},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			srv := mailtest.Start(t, tc.opt, mailtest.WithAuth("mailer", "pw"))
			host, port := srv.Addr()
			cfg := mail.SMTPConfig{
				Host: host, Port: port, User: "mailer", Pass: "pw",
				From: testFrom, TLS: tc.mode, Timeout: 5 * time.Second,
			}
			m := mail.Message{To: "a@example.com", Subject: "s", Text: "x"}

			// Without the test root, the certificate must be refused.
			s, err := mail.NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(waitCtx(t), m); err == nil {
				t.Fatal("sent to a server with an untrusted certificate")
			}

			cfg.RootCAs = srv.RootCAs()
			if s, err = mail.NewSMTP(cfg); err != nil {
				t.Fatal(err)
			}
			if err := s.Send(waitCtx(t), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r, err := srv.Wait(waitCtx(t), "a@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if !r.TLS || r.User != "mailer" {
				t.Errorf("TLS = %v, user = %q; want TLS and mailer", r.TLS, r.User)
			}
		})
	}
}

func TestSMTPNeverDowngrades(t *testing.T) {
	for _, mode := range []string{mail.TLSStartTLS, mail.TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			srv := mailtest.Start(t) // plain SMTP, no STARTTLS
			host, port := srv.Addr()
			s, err := mail.NewSMTP(mail.SMTPConfig{
				Host: host, Port: port, User: "u", Pass: "p", From: testFrom,
				TLS: mode, Timeout: 2 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(waitCtx(t), mail.Message{To: "a@example.com", Text: "x"})
			if err == nil {
				t.Fatal("sent over plain text although TLS was required")
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("%d messages delivered", n)
			}
		})
	}
}

func TestNewSMTPConfig(t *testing.T) {
	ok := mail.SMTPConfig{Host: "smtp.example.com", From: testFrom}
	cases := []struct {
		name   string
		change func(*mail.SMTPConfig)
		valid  bool
	}{
		{"defaults", func(*mail.SMTPConfig) {}, true},
		{"port 465", func(c *mail.SMTPConfig) { c.Port = 465 }, true},
		{"credentials", func(c *mail.SMTPConfig) { c.User, c.Pass = "u", "p" }, true},
		{"tls none", func(c *mail.SMTPConfig) { c.TLS = mail.TLSNone }, true},
		{"no host", func(c *mail.SMTPConfig) { c.Host = "" }, false},
		{"negative port", func(c *mail.SMTPConfig) { c.Port = -1 }, false},
		{"port too big", func(c *mail.SMTPConfig) { c.Port = 70000 }, false},
		{"user without password", func(c *mail.SMTPConfig) { c.User = "u" }, false},
		{"password without user", func(c *mail.SMTPConfig) {
			c.Pass = "pw-never-shown"
		}, false},
		{"no from", func(c *mail.SMTPConfig) { c.From = "" }, false},
		{"bad from", func(c *mail.SMTPConfig) { c.From = "not an address" }, false},
		{"unknown TLS mode", func(c *mail.SMTPConfig) { c.TLS = "ssl" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			_, err := mail.NewSMTP(c)
			if tc.valid && err != nil {
				t.Fatalf("NewSMTP: %v", err)
			}
			if tc.valid {
				return
			}
			if !errors.Is(err, mail.ErrInvalidConfig) {
				t.Fatalf("error = %v, want ErrInvalidConfig", err)
			}
			if strings.Contains(err.Error(), "pw-never-shown") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestSendRejectsInvalidMessages(t *testing.T) {
	srv := mailtest.Start(t)
	senders := map[string]mail.Sender{
		"smtp": senderFor(t, srv, "", ""),
		"log":  mail.NewLog(slog.New(slog.DiscardHandler)),
	}
	cases := []struct {
		name string
		m    mail.Message
	}{
		{"header injection in To", mail.Message{
			To: "a@example.com\r\nBcc: b@example.com", Text: "x"}},
		{"two recipients", mail.Message{To: "a@example.com, b@example.com",
			Text: "x"}},
		{"no recipient", mail.Message{Text: "x"}},
		{"line break in subject", mail.Message{To: "a@example.com",
			Subject: "hi\nBcc: b@example.com", Text: "x"}},
		{"no body", mail.Message{To: "a@example.com", Subject: "s"}},
	}
	for name, s := range senders {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				err := s.Send(waitCtx(t), tc.m)
				if !errors.Is(err, mail.ErrInvalidMessage) {
					t.Errorf("error = %v, want ErrInvalidMessage", err)
				}
			})
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	l := mail.NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	m := mail.Message{To: "a@example.com", Subject: "Hello", Text: "link: https://x/y",
		HTML: "<p>html-not-logged</p>"}
	if err := l.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if rec["level"] != "INFO" || rec["to"] != m.To || rec["subject"] != m.Subject ||
		rec["text"] != m.Text {
		t.Errorf("log record = %v", rec)
	}
	if strings.Contains(buf.String(), "html-not-logged") {
		t.Error("HTML body logged")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Send(ctx, m); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

// trim drops trailing line breaks, which MIME boundaries may take.
func trim(s string) string { return strings.TrimRight(s, "\n") }
