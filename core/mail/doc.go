// Package mail sends mana-auth's email: the Sender interface, an SMTP sender
// built on github.com/wneessen/go-mail, a development sender that writes mail
// to the log, and the embedded templates for every message the server sends
// (Render).
//
// Senders are safe for concurrent use. Errors never contain a message body
// or SMTP credentials; callers may log them as they are.
//
// Package mail/mailtest has an in-process SMTP server for tests.
package mail
