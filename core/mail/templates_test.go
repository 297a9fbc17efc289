package mail

import (
	"errors"
	"html"
	"strings"
	"testing"
	"time"
)

const testURL = "https://auth.mana.how/api/auth/verify-email?token=a.b-c_d" +
	"&callbackURL=%2Fwelcome"

func fullData() Data {
	return Data{
		AppName:     "mana",
		URL:         testURL,
		Code:        "482913",
		Email:       "new@example.com",
		Name:        "Anna",
		OrgName:     "Acme",
		InviterName: "Bob",
		ExpiresIn:   15 * time.Minute,
	}
}

func TestRenderEveryKind(t *testing.T) {
	wantSubject := map[Kind]string{
		KindVerifyEmail:   "Verify your email for mana",
		KindResetPassword: "Reset your mana password",
		KindMagicLink:     "Your sign-in link for mana",
		KindOTP:           "Your mana code",
		KindInvitation:    "Join Acme on mana",
		KindChangeEmail:   "Confirm your new email for mana",
		KindDeleteAccount: "Confirm deleting your mana account",
	}
	if len(wantSubject) != len(Kinds) {
		t.Fatalf("test covers %d kinds, package has %d", len(wantSubject), len(Kinds))
	}

	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) {
			m, err := Render(k, "anna@example.com", fullData())
			if err != nil {
				t.Fatal(err)
			}
			if m.To != "anna@example.com" {
				t.Errorf("To = %q", m.To)
			}
			if m.Subject != wantSubject[k] {
				t.Errorf("Subject = %q, want %q", m.Subject, wantSubject[k])
			}
			if !strings.Contains(m.Text, "15 minutes") ||
				!strings.Contains(m.HTML, "15 minutes") {
				t.Error("expiry missing")
			}
			if !strings.HasPrefix(m.HTML, "<!DOCTYPE html>") {
				t.Errorf("HTML does not start with the layout: %.40q", m.HTML)
			}

			if k == KindOTP {
				if !strings.Contains(m.Text, "\n482913\n") ||
					!strings.Contains(m.HTML, ">482913<") {
					t.Error("code missing")
				}
				if strings.Contains(m.Subject, "482913") {
					t.Error("code in the subject, where lock screens show it")
				}
				return
			}
			if !strings.Contains(m.Text, "\n"+testURL+"\n") {
				t.Errorf("URL not verbatim on its own line in text:\n%s", m.Text)
			}
			if !strings.Contains(m.HTML, `href="`+html.EscapeString(testURL)+`"`) {
				t.Errorf("URL not in an href in HTML:\n%s", m.HTML)
			}
		})
	}
}

func TestRenderEscapesUserValuesInHTML(t *testing.T) {
	d := fullData()
	d.Name = "<script>alert(1)</script>"
	d.OrgName = `<img src=x onerror=alert(2)>`
	d.InviterName = `"><b>bold</b>`
	d.Email = "<i>x</i>@example.com"

	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) {
			m, err := Render(k, "anna@example.com", d)
			if err != nil {
				t.Fatal(err)
			}
			for _, raw := range []string{"<script", "<img", "<b>", "<i>"} {
				if strings.Contains(m.HTML, raw) {
					t.Errorf("HTML contains unescaped %q", raw)
				}
			}
		})
	}

	m, err := Render(KindVerifyEmail, "anna@example.com", d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("escaped name missing from HTML:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, "Hi <script>alert(1)</script>,") {
		t.Error("plain text should carry the name as typed")
	}
}

func TestRenderNeutralisesScriptURLInHTML(t *testing.T) {
	d := fullData()
	d.URL = "javascript:alert(1)"
	m, err := Render(KindMagicLink, "a@example.com", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, `href="javascript:`) {
		t.Error("javascript: URL kept in an href")
	}
}

func TestRenderSubjectIsOneLine(t *testing.T) {
	d := fullData()
	d.OrgName = "Acme\r\nBcc: victim@example.com\x00"
	m, err := Render(KindInvitation, "a@example.com", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(m.Subject, "\r\n\x00") {
		t.Errorf("Subject = %q", m.Subject)
	}
	if m.Subject != "Join Acme Bcc: victim@example.com on mana" {
		t.Errorf("Subject = %q", m.Subject)
	}
}

func TestRenderDefaultsAndOptionalFields(t *testing.T) {
	m, err := Render(KindVerifyEmail, "a@example.com", Data{URL: testURL})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Verify your email for "+DefaultAppName {
		t.Errorf("Subject = %q", m.Subject)
	}
	if !strings.HasPrefix(m.Text, "Hi,\n") {
		t.Errorf("greeting without a name: %.20q", m.Text)
	}
	if strings.Contains(m.Text, "expires") || strings.Contains(m.HTML, "expires") {
		t.Error("expiry sentence without ExpiresIn")
	}

	m, err = Render(KindInvitation, "a@example.com",
		Data{URL: testURL, OrgName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "You are invited to join Acme") {
		t.Errorf("invitation without inviter:\n%s", m.Text)
	}
}

func TestRenderErrors(t *testing.T) {
	cases := []struct {
		name string
		kind Kind
		data Data
		want error
	}{
		{"unknown kind", Kind("nope"), fullData(), ErrUnknownKind},
		{"verify without URL", KindVerifyEmail, Data{Name: "A"}, ErrMissingData},
		{"blank URL", KindResetPassword, Data{URL: "  "}, ErrMissingData},
		{"otp without code", KindOTP, Data{URL: testURL}, ErrMissingData},
		{"invitation without org", KindInvitation, Data{URL: testURL},
			ErrMissingData},
		{"invitation without URL", KindInvitation, Data{OrgName: "Acme"},
			ErrMissingData},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.kind, "a@example.com", tc.data)
			if !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Second, "1 minute"},
		{time.Minute, "1 minute"},
		{5 * time.Minute, "5 minutes"},
		{5*time.Minute + time.Second, "6 minutes"},
		{90 * time.Minute, "90 minutes"},
		{time.Hour, "1 hour"},
		{3 * time.Hour, "3 hours"},
		{24 * time.Hour, "1 day"},
		{36 * time.Hour, "36 hours"},
		{7 * 24 * time.Hour, "7 days"},
	}
	for _, tc := range cases {
		if got := formatDuration(tc.d); got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
