package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strings"
)

// ErrInvalidMessage is returned by Send for a message that cannot be sent
// safely: a recipient that is not exactly one address, a line break in the
// subject, or no body at all.
var ErrInvalidMessage = errors.New("invalid mail message")

// Message is one email to one recipient. Text is the plain-text body; HTML,
// when set, is sent as its alternative.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender delivers a Message. Send returns once the message is handed over
// (to the SMTP server, or to the log) and gives up when ctx is done.
// Implementations are safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// validate checks the parts of m that would otherwise end up in headers.
func (m Message) validate() error {
	if strings.ContainsAny(m.To, "\r\n") {
		return fmt.Errorf("%w: line break in recipient", ErrInvalidMessage)
	}
	if _, err := netmail.ParseAddress(m.To); err != nil {
		return fmt.Errorf("%w: recipient: %w", ErrInvalidMessage, err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("%w: line break in subject", ErrInvalidMessage)
	}
	if m.Text == "" && m.HTML == "" {
		return fmt.Errorf("%w: empty body", ErrInvalidMessage)
	}
	return nil
}

// Log is a development Sender: it writes each message's recipient, subject
// and plain-text body to a logger at Info level instead of sending it.
//
// Log is for development only. The text body holds verification links,
// sign-in links and one-time codes, so the log becomes a credential store;
// never use it where the log leaves the developer's machine.
type Log struct {
	l *slog.Logger
}

var (
	_ Sender = (*Log)(nil)
	_ Sender = (*SMTP)(nil)
)

// NewLog returns a development Sender that logs to l (slog.Default() when l
// is nil). See Log for why it must not be used in production.
func NewLog(l *slog.Logger) *Log {
	if l == nil {
		l = slog.Default()
	}
	return &Log{l: l}
}

// Send logs m and returns nil, or the validation error, or ctx's error when
// ctx is already done.
func (g *Log) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("logging mail: %w", err)
	}
	if err := m.validate(); err != nil {
		return err
	}
	g.l.InfoContext(ctx, "mail not sent: development log sender",
		"to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}
