package mailtest

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// rawMultipart is a hand-written multipart/alternative message with a
// quoted-printable text part (soft line break inside a URL) and a base64
// HTML part, and an encoded-word subject.
const rawMultipart = "From: mana <noreply@mana.how>\r\n" +
	"To: anna@example.com\r\n" +
	"Subject: =?UTF-8?q?Gr=C3=BC=C3=9Fe_aus_mana?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Open https://auth.mana.how/verify?token=3Dabc&next=3D%2F=\r\n" +
	"dashboard now.\r\n" +
	"Caf=C3=A9\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+SGFsbG8gJmFtcDsgd2lsbGtv\r\n" +
	"bW1lbjwvcD4=\r\n" +
	"--b1--\r\n"

func send(t *testing.T, s *Server, auth sasl.Client, to string, msg string) error {
	t.Helper()
	host, port := s.Addr()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.SendMail("noreply@mana.how", []string{to},
		strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

func TestParsesMultipart(t *testing.T) {
	s := Start(t)
	if err := send(t, s, nil, "anna@example.com", rawMultipart); err != nil {
		t.Fatalf("SendMail: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := s.Wait(ctx, "ANNA@example.com")
	if err != nil {
		t.Fatal(err)
	}

	if r.Subject != "Grüße aus mana" {
		t.Errorf("Subject = %q", r.Subject)
	}
	wantText := "Open https://auth.mana.how/verify?token=abc&next=%2Fdashboard " +
		"now.\nCafé" // the CRLF before a boundary belongs to the boundary
	if r.Text != wantText {
		t.Errorf("Text = %q, want %q", r.Text, wantText)
	}
	if r.HTML != "<p>Hallo &amp; willkommen</p>" {
		t.Errorf("HTML = %q", r.HTML)
	}
	if r.From != "noreply@mana.how" || len(r.To) != 1 || r.To[0] != "anna@example.com" {
		t.Errorf("envelope = %q %q", r.From, r.To)
	}
	if r.User != "" {
		t.Errorf("User = %q without AUTH", r.User)
	}
	if r.Header.Get("From") != "mana <noreply@mana.how>" {
		t.Errorf("From header = %q", r.Header.Get("From"))
	}
	if !strings.Contains(string(r.Raw), "quoted-printable") {
		t.Error("Raw is not the message as sent")
	}
	got := ExtractURL(r.Text, "https://auth.mana.how/verify")
	if got != "https://auth.mana.how/verify?token=abc&next=%2Fdashboard" {
		t.Errorf("ExtractURL = %q", got)
	}
}

func TestSinglePartAndMessages(t *testing.T) {
	s := Start(t)
	msg := "Subject: plain\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	for _, to := range []string{"a@example.com", "b@example.com", "a@example.com"} {
		if err := send(t, s, nil, to, msg); err != nil {
			t.Fatal(err)
		}
	}

	all := s.Messages()
	if len(all) != 3 || all[0].Text != "hello\n" || all[1].To[0] != "b@example.com" {
		t.Fatalf("Messages() = %+v", all)
	}
	all[0].To[0] = "changed"
	if s.Messages()[0].To[0] != "a@example.com" {
		t.Error("Messages returned internal state")
	}

	// Wait hands out a's two messages in order, then blocks.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for range 2 {
		if _, err := s.Wait(ctx, "a@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := s.Wait(short, "a@example.com"); !errors.Is(err,
		context.DeadlineExceeded) {
		t.Errorf("third Wait error = %v, want DeadlineExceeded", err)
	}
}

func TestWaitBlocksUntilArrival(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = send(t, s, nil, "late@example.com", "Subject: late\r\n\r\nx\r\n")
	}()
	r, err := s.Wait(ctx, "late@example.com")
	if err != nil || r.Subject != "late" {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
}

func TestAuth(t *testing.T) {
	s := Start(t, WithAuth("mailer", "s3cret"))
	msg := "Subject: hi\r\n\r\nbody\r\n"

	if err := send(t, s, nil, "x@example.com", msg); err == nil {
		t.Error("sending without AUTH succeeded on a server that requires it")
	}
	bad := sasl.NewPlainClient("", "mailer", "wrong")
	if err := send(t, s, bad, "x@example.com", msg); err == nil {
		t.Error("wrong password accepted")
	}
	good := sasl.NewPlainClient("", "mailer", "s3cret")
	if err := send(t, s, good, "x@example.com", msg); err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	if got := s.Messages(); len(got) != 1 || got[0].User != "mailer" {
		t.Errorf("Messages() = %+v, want one from user mailer", got)
	}
}

func TestOptionalAuthAcceptsAnyCredentials(t *testing.T) {
	s := Start(t)
	c := sasl.NewPlainClient("", "whoever", "whatever")
	if err := send(t, s, c, "x@example.com", "Subject: s\r\n\r\nb\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := s.Messages(); len(got) != 1 || got[0].User != "whoever" {
		t.Errorf("Messages() = %+v", got)
	}
}

func TestRejectsUnparsableMessage(t *testing.T) {
	s := Start(t)
	msg := "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nx\r\n--b--\r\n"
	if err := send(t, s, nil, "x@example.com", msg); err == nil {
		t.Error("server accepted a message it cannot decode")
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages stored", n)
	}
}

func TestExtractURL(t *testing.T) {
	cases := []struct {
		name, text, prefix, want string
	}{
		{"own line", "Open:\n\nhttps://a.b/v?t=1&x=2\n\nBye", "https://a.b/v",
			"https://a.b/v?t=1&x=2"},
		{"sentence end", "Go to https://a.b/x.", "https://a.b", "https://a.b/x"},
		{"in parentheses", "(see https://a.b/x)", "https://a.b", "https://a.b/x"},
		{"html attribute", `<a href="https://a.b/x?y=1">`, "https://a.b",
			"https://a.b/x?y=1"},
		{"first of two", "https://a.b/1 https://a.b/2", "https://a.b",
			"https://a.b/1"},
		{"prefix later", "https://c.d/1 https://a.b/2", "https://a.b",
			"https://a.b/2"},
		{"empty prefix finds http", "x http://a.b/1 https://c.d", "",
			"http://a.b/1"},
		{"empty prefix finds https", "x https://c.d y", "", "https://c.d"},
		{"missing", "no link here", "https://a.b", ""},
		{"end of text", "https://a.b/x", "https://a.b", "https://a.b/x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExtractURL(tc.text, tc.prefix); got != tc.want {
				t.Errorf("ExtractURL = %q, want %q", got, tc.want)
			}
		})
	}
}
