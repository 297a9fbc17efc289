package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strconv"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of SMTPConfig.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS and fails when
	// the server does not offer it; it never falls back to plain text.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit = "tls"
	// TLSNone sends everything, credentials included, in plain text. Use it
	// only for a relay on localhost or a private network, and for tests.
	TLSNone = "none"
)

// defaultTimeout bounds each network step of a send when SMTPConfig.Timeout
// is zero.
const defaultTimeout = 15 * time.Second

// ErrInvalidConfig is returned by NewSMTP for an unusable SMTPConfig.
var ErrInvalidConfig = errors.New("invalid SMTP configuration")

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	// Host is the server name; it is also the name checked against the
	// server's TLS certificate.
	Host string
	// Port defaults to 587.
	Port int
	// User and Pass are optional; set both or neither.
	User, Pass string
	// From is the sender address, optionally with a name:
	// "mana <noreply@mana.how>".
	From string
	// TLS is TLSStartTLS, TLSImplicit or TLSNone. Empty means TLSImplicit
	// on port 465 and TLSStartTLS otherwise.
	TLS string
	// Timeout bounds each network step (dial, each command); default 15 s.
	Timeout time.Duration
	// RootCAs, when set, replaces the system roots for verifying the
	// server's certificate (a private relay, or mailtest's TLS server).
	RootCAs *x509.CertPool
}

// SMTP is a Sender that delivers through an SMTP server, one connection per
// message, as a multipart/alternative text and HTML mail. It is safe for
// concurrent use.
type SMTP struct {
	host    string
	port    int
	user    string
	pass    string
	from    string
	mode    string
	timeout time.Duration
	roots   *x509.CertPool
}

// NewSMTP checks c and returns a sender for it. It does not connect; a
// wrong host or password shows up at the first Send. A bad configuration
// returns ErrInvalidConfig; the error never contains the password.
func NewSMTP(c SMTPConfig) (*SMTP, error) {
	s := &SMTP{
		host: c.Host, port: c.Port, user: c.User, pass: c.Pass,
		from: c.From, mode: c.TLS, timeout: c.Timeout, roots: c.RootCAs,
	}
	if s.host == "" {
		return nil, fmt.Errorf("%w: host is empty", ErrInvalidConfig)
	}
	if s.port == 0 {
		s.port = 587
	}
	if s.port < 1 || s.port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrInvalidConfig, c.Port)
	}
	if (s.user == "") != (s.pass == "") {
		return nil, fmt.Errorf("%w: set both user and password, or neither",
			ErrInvalidConfig)
	}
	if _, err := netmail.ParseAddress(s.from); err != nil {
		return nil, fmt.Errorf("%w: from address: %w", ErrInvalidConfig, err)
	}

	switch s.mode {
	case "":
		s.mode = TLSStartTLS
		if s.port == 465 {
			s.mode = TLSImplicit
		}
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("%w: TLS mode %q (want %q, %q or %q)",
			ErrInvalidConfig, c.TLS, TLSStartTLS, TLSImplicit, TLSNone)
	}

	if s.timeout <= 0 {
		s.timeout = defaultTimeout
	}
	return s, nil
}

// Send delivers m. It gives up as soon as ctx is done, closing the
// connection mid-conversation if need be; the error then wraps ctx.Err().
// Invalid messages return ErrInvalidMessage. Errors name the server, never
// the body or the credentials.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	addr := net.JoinHostPort(s.host, strconv.Itoa(s.port))
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sending mail via %s: %w", addr, err)
	}
	if err := m.validate(); err != nil {
		return err
	}

	msg, err := s.message(m)
	if err != nil {
		return err
	}

	// Close the connection when ctx ends, so a stalled server cannot hold
	// Send for longer than the caller allows. go-mail only watches ctx while
	// dialling.
	var (
		mu   sync.Mutex
		stop func() bool
	)
	dial := func(dctx context.Context, network, address string) (net.Conn, error) {
		conn, err := s.dial(dctx, network, address)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		stop = context.AfterFunc(ctx, func() { _ = conn.Close() })
		mu.Unlock()
		return conn, nil
	}

	client, err := gomail.NewClient(s.host, s.options(dial)...)
	if err != nil {
		return fmt.Errorf("sending mail via %s: creating client: %w", addr, err)
	}
	err = client.DialAndSendWithContext(ctx, msg)

	mu.Lock()
	if stop != nil {
		stop()
	}
	mu.Unlock()

	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("sending mail via %s: %w: %w", addr, cerr, err)
	}
	return fmt.Errorf("sending mail via %s: %w", addr, err)
}

// message builds the go-mail message for m.
func (s *SMTP) message(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return nil, fmt.Errorf("%w: from address: %w", ErrInvalidMessage, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: recipient: %w", ErrInvalidMessage, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetGenHeader("Auto-Submitted", "auto-generated")

	switch {
	case m.Text == "":
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	case m.HTML == "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// options returns the go-mail client options for s; dial makes every
// connection, so that Send can watch it.
func (s *SMTP) options(dial gomail.DialContextFunc) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(s.timeout),
		gomail.WithDialContextFunc(dial),
	}

	// With implicit TLS, dial hands go-mail a *tls.Conn, which its SMTP
	// client recognises as encrypted.
	switch s.mode {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory),
			gomail.WithTLSConfig(s.tlsConfig()))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}

	if s.user == "" {
		return opts
	}
	opts = append(opts, gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	if s.mode == TLSNone {
		// The operator chose plain text; PLAIN and LOGIN would otherwise
		// refuse to send the password.
		return append(opts, gomail.WithOpportunisticSMTPAuth(
			gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc))
	}
	return append(opts, gomail.WithOpportunisticSMTPAuth(
		gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
}

// dial connects to the server, with TLS from the start in TLSImplicit mode.
func (s *SMTP) dial(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{Timeout: s.timeout}
	if s.mode != TLSImplicit {
		return d.DialContext(ctx, network, address)
	}
	td := &tls.Dialer{NetDialer: d, Config: s.tlsConfig()}
	return td.DialContext(ctx, network, address)
}

func (s *SMTP) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName: s.host,
		RootCAs:    s.roots,
		MinVersion: tls.VersionTLS12,
	}
}
