// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp)
// inside a test process, so that mail-sending code is tested over the wire:
// plain connections by default, optionally STARTTLS or implicit TLS with a
// throwaway certificate, optional AUTH PLAIN, and MIME parsing of what
// arrives.
//
// Shortcoming: text parts are assumed to be UTF-8 whatever their charset
// says; other charsets would need golang.org/x/text decoders.
package mailtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message as the server got it.
type Received struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To holds the envelope recipients (RCPT TO).
	To []string
	// User is the AUTH PLAIN user name, "" when the client did not
	// authenticate.
	User string
	// TLS reports whether the message arrived over TLS.
	TLS bool
	// Header is the parsed message header.
	Header mail.Header
	// Subject is the decoded Subject header.
	Subject string
	// Text and HTML are the decoded text/plain and text/html bodies (the
	// first of each), with line endings turned into "\n".
	Text, HTML string
	// Raw is the message exactly as transmitted.
	Raw []byte
}

// Server is an in-process SMTP server. It is safe for concurrent use.
type Server struct {
	smtp *smtp.Server
	host string
	port int
	user string
	pass string

	tlsMode string // "", "starttls" or "implicit"
	roots   *x509.CertPool

	mu     sync.Mutex
	msgs   []Received
	taken  map[string]int // per lower-case address: messages Wait returned
	notify chan struct{}  // closed and replaced on every new message
}

// Option configures Start.
type Option func(*Server)

// WithAuth makes the server require AUTH PLAIN with these credentials
// before MAIL FROM. Without it, AUTH PLAIN is offered and any credentials
// are accepted, but not required.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithSTARTTLS makes the server offer STARTTLS with a self-signed
// certificate for 127.0.0.1; trust it through RootCAs.
func WithSTARTTLS() Option {
	return func(s *Server) { s.tlsMode = "starttls" }
}

// WithImplicitTLS makes the server speak TLS from the first byte (SMTPS),
// with a self-signed certificate for 127.0.0.1; trust it through RootCAs.
func WithImplicitTLS() Option {
	return func(s *Server) { s.tlsMode = "implicit" }
}

// Start runs a server on 127.0.0.1 with a free port and closes it in
// t.Cleanup. It fails the test if it cannot listen.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()

	s := &Server{taken: make(map[string]int), notify: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listening: %v", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s.host, s.port = addr.IP.String(), addr.Port

	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	if s.tlsMode != "" {
		cfg, roots, err := selfSigned()
		if err != nil {
			ln.Close()
			t.Fatalf("mailtest: certificate: %v", err)
		}
		s.roots = roots
		if s.tlsMode == "implicit" {
			ln = tls.NewListener(ln, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.smtp = srv

	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Addr returns the host and port to connect to.
func (s *Server) Addr() (host string, port int) {
	return s.host, s.port
}

// RootCAs returns a pool holding the server's certificate, or nil for a
// plain server.
func (s *Server) RootCAs() *x509.CertPool {
	return s.roots
}

// Wait returns the next message addressed to to (compared
// case-insensitively) that an earlier Wait for the same address has not
// returned, blocking until it arrives or ctx is done.
func (s *Server) Wait(ctx context.Context, to string) (Received, error) {
	key := strings.ToLower(to)
	for {
		s.mu.Lock()
		r, ok := s.nextLocked(key)
		ch := s.notify
		s.mu.Unlock()
		if ok {
			return r, nil
		}

		select {
		case <-ch:
		case <-ctx.Done():
			return Received{}, fmt.Errorf("mailtest: waiting for mail to %s: %w",
				to, ctx.Err())
		}
	}
}

// Messages returns every message received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.msgs))
	for i, r := range s.msgs {
		out[i] = r.clone()
	}
	return out
}

// nextLocked finds the next unreturned message for key; s.mu is held.
func (s *Server) nextLocked(key string) (Received, bool) {
	seen := 0
	for _, r := range s.msgs {
		if !slices.ContainsFunc(r.To, func(a string) bool {
			return strings.EqualFold(a, key)
		}) {
			continue
		}
		if seen == s.taken[key] {
			s.taken[key]++
			return r.clone(), true
		}
		seen++
	}
	return Received{}, false
}

func (s *Server) add(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, r)
	close(s.notify)
	s.notify = make(chan struct{})
}

func (r Received) clone() Received {
	r.To = slices.Clone(r.To)
	r.Raw = bytes.Clone(r.Raw)
	h := make(mail.Header, len(r.Header))
	for k, v := range r.Header {
		h[k] = slices.Clone(v)
	}
	r.Header = h
	return r
}

// ExtractURL returns the first URL in text that starts with prefix, or ""
// when there is none. An empty prefix finds the first http or https URL.
// The URL ends at white space, a quote or an angle bracket; trailing
// sentence punctuation is dropped.
func ExtractURL(text, prefix string) string {
	i := -1
	if prefix != "" {
		i = strings.Index(text, prefix)
	} else {
		for _, p := range []string{"https://", "http://"} {
			if j := strings.Index(text, p); j >= 0 && (i < 0 || j < i) {
				i = j
			}
		}
	}
	if i < 0 {
		return ""
	}

	u := text[i:]
	if end := strings.IndexFunc(u, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(`"'<>`, r)
	}); end >= 0 {
		u = u[:end]
	}
	return strings.TrimRight(u, ".,;:!?)]")
}

// session is one SMTP connection.
type session struct {
	srv  *Server
	conn *smtp.Conn
	user string
	auth bool
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if identity != "" && identity != user {
			return smtp.ErrAuthFailed
		}
		if ss.srv.user != "" && !(equal(user, ss.srv.user) && equal(pass, ss.srv.pass)) {
			return smtp.ErrAuthFailed
		}
		ss.user, ss.auth = user, true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.user != "" && !ss.auth {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{
			Code:         554,
			EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message:      "mailtest: " + err.Error(),
		}
	}
	rec.From, rec.To, rec.User = ss.from, slices.Clone(ss.to), ss.user
	_, rec.TLS = ss.conn.TLSConnectionState()
	ss.srv.add(rec)
	return nil
}

func (ss *session) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *session) Logout() error { return nil }

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// parse reads a raw message into a Received (without envelope fields).
func parse(raw []byte) (Received, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Received{}, fmt.Errorf("reading message: %w", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return Received{}, fmt.Errorf("decoding subject: %w", err)
	}

	r := Received{Header: m.Header, Subject: subject, Raw: raw}
	if err := walk(textproto.MIMEHeader(m.Header), m.Body, &r, 0); err != nil {
		return Received{}, err
	}
	return r, nil
}

// maxDepth bounds multipart nesting.
const maxDepth = 8

// walk collects the first text/plain and text/html parts under one part.
func walk(h textproto.MIMEHeader, body io.Reader, r *Received, depth int) error {
	if depth > maxDepth {
		return errors.New("multipart nested too deeply")
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ct, err)
	}

	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", mediaType, err)
			}
			if err := walk(p.Header, p, r, depth+1); err != nil {
				return err
			}
		}
	}

	if mediaType != "text/plain" && mediaType != "text/html" {
		return nil
	}
	text, err := decode(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return fmt.Errorf("decoding %s: %w", mediaType, err)
	}
	if mediaType == "text/plain" && r.Text == "" {
		r.Text = text
	}
	if mediaType == "text/html" && r.HTML == "" {
		r.HTML = text
	}
	return nil
}

// decode undoes a Content-Transfer-Encoding and normalises line endings.
func decode(cte string, body io.Reader) (string, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "", "7bit", "8bit", "binary":
	default:
		return "", fmt.Errorf("unknown transfer encoding %q", cte)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}

// selfSigned makes a throwaway ECDSA certificate for 127.0.0.1 and
// localhost, valid for a day.
func selfSigned() (*tls.Config, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}

	roots := x509.NewCertPool()
	roots.AddCert(cert)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}
	return cfg, roots, nil
}
