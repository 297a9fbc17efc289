package mail

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
)

// Kind names one of the messages the server sends.
type Kind string

// The message kinds. Each has a subject, a text body and an HTML body in
// templates/<kind>.txt and templates/<kind>.html.
const (
	KindVerifyEmail   Kind = "verify-email"
	KindResetPassword Kind = "reset-password"
	KindMagicLink     Kind = "magic-link"
	KindOTP           Kind = "otp"
	KindInvitation    Kind = "invitation"
	KindChangeEmail   Kind = "change-email"
	KindDeleteAccount Kind = "delete-account"
)

// Kinds lists every Kind, for tests and configuration checks.
var Kinds = []Kind{
	KindVerifyEmail, KindResetPassword, KindMagicLink, KindOTP,
	KindInvitation, KindChangeEmail, KindDeleteAccount,
}

var (
	// ErrUnknownKind is returned by Render for a Kind without templates.
	ErrUnknownKind = errors.New("unknown mail kind")
	// ErrMissingData is returned by Render when a field the kind needs is
	// empty: URL for link mails, Code for KindOTP, OrgName for invitations.
	ErrMissingData = errors.New("missing mail data")
)

// DefaultAppName is used when Data.AppName is empty.
const DefaultAppName = "mana"

// Data fills a template. Which fields a kind uses:
//
//	KindVerifyEmail    URL, Name
//	KindResetPassword  URL, Name
//	KindMagicLink      URL
//	KindOTP            Code
//	KindInvitation     URL, OrgName, InviterName, Email (the invitee)
//	KindChangeEmail    URL, Email (the new address), Name
//	KindDeleteAccount  URL, Name
//
// AppName and ExpiresIn apply to all; a zero ExpiresIn leaves out the
// expiry sentence. Name, OrgName and InviterName are user-controlled and
// are escaped in HTML.
type Data struct {
	AppName     string
	URL         string
	Code        string
	Email       string
	Name        string
	OrgName     string
	InviterName string
	ExpiresIn   time.Duration
}

//go:embed templates
var templateFS embed.FS

// kindTemplates holds one kind's parsed templates: text defines "subject"
// and "text"; html is the layout with the kind's "body".
type kindTemplates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

var funcs = map[string]any{"duration": formatDuration}

// loadTemplates parses the embedded templates once.
var loadTemplates = sync.OnceValues(func() (map[Kind]kindTemplates, error) {
	layout, err := htmltemplate.New("layout.html").Funcs(funcs).
		ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parsing mail layout: %w", err)
	}

	sets := make(map[Kind]kindTemplates, len(Kinds))
	for _, k := range Kinds {
		text, err := texttemplate.New(string(k)).Funcs(funcs).
			ParseFS(templateFS, "templates/"+string(k)+".txt")
		if err != nil {
			return nil, fmt.Errorf("parsing %s text template: %w", k, err)
		}
		html, err := layout.Clone()
		if err == nil {
			html, err = html.ParseFS(templateFS, "templates/"+string(k)+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s HTML template: %w", k, err)
		}
		sets[k] = kindTemplates{text: text, html: html}
	}
	return sets, nil
})

// Render builds the message of kind k for the recipient to: a one-line
// subject, a plain-text body in which d.URL appears verbatim, and an HTML
// body in which every value is escaped for its context. It returns
// ErrUnknownKind or ErrMissingData for unusable input.
func Render(k Kind, to string, d Data) (Message, error) {
	sets, err := loadTemplates()
	if err != nil {
		return Message{}, err
	}
	set, ok := sets[k]
	if !ok {
		return Message{}, fmt.Errorf("%w %q", ErrUnknownKind, k)
	}
	if err := checkData(k, d); err != nil {
		return Message{}, err
	}
	if d.AppName == "" {
		d.AppName = DefaultAppName
	}

	var subject, text, html strings.Builder
	if err := set.text.ExecuteTemplate(&subject, "subject", d); err != nil {
		return Message{}, fmt.Errorf("rendering %s subject: %w", k, err)
	}
	if err := set.text.ExecuteTemplate(&text, "text", d); err != nil {
		return Message{}, fmt.Errorf("rendering %s text: %w", k, err)
	}
	if err := set.html.ExecuteTemplate(&html, "layout.html", d); err != nil {
		return Message{}, fmt.Errorf("rendering %s HTML: %w", k, err)
	}

	return Message{
		To:      to,
		Subject: oneLine(subject.String()),
		Text:    strings.TrimSpace(text.String()) + "\n",
		HTML:    html.String(),
	}, nil
}

// checkData reports the first field k needs that d leaves empty.
func checkData(k Kind, d Data) error {
	need := func(field, value string) error {
		if strings.TrimSpace(value) == "" {
			return fmt.Errorf("%w: %s needs %s", ErrMissingData, k, field)
		}
		return nil
	}
	switch k {
	case KindOTP:
		return need("Code", d.Code)
	case KindInvitation:
		if err := need("OrgName", d.OrgName); err != nil {
			return err
		}
	}
	return need("URL", d.URL)
}

// oneLine turns s into a header-safe line: control characters (line breaks
// included, so user-controlled names cannot inject headers) become spaces,
// runs of spaces collapse.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// formatDuration writes d in whole days, hours or minutes, rounding up:
// "1 day", "3 hours", "15 minutes".
func formatDuration(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	default:
		return unit(int64((d+time.Minute-1)/time.Minute), "minute")
	}
}
