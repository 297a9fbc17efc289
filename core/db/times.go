package db

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// TimeLayout is how SQLite stores timestamps: UTC, millisecond precision, a
// fixed width, so that stored values sort and compare as text.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// formatTime renders t in TimeLayout.
func formatTime(t time.Time) string {
	var buf [len(TimeLayout)]byte
	return string(t.UTC().AppendFormat(buf[:0], TimeLayout))
}

// parseTime reads a timestamp stored as text. TimeLayout is decoded by hand
// (the hot path); anything else goes through RFC 3339 and SQLite's own
// "YYYY-MM-DD HH:MM:SS" form.
func parseTime(s string) (time.Time, error) {
	if t, ok := parseLayout(s); ok {
		return t, nil
	}
	for _, layout := range fallbackLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("db: cannot parse %q as a timestamp", s)
}

// fallbackLayouts are tried, in order, for text that is not in TimeLayout.
var fallbackLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// parseLayout decodes exactly TimeLayout without allocating.
func parseLayout(s string) (time.Time, bool) {
	if len(s) != len(TimeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[19] != '.' || s[23] != 'Z' {
		return time.Time{}, false
	}
	ok := true
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				ok = false
				return 0
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, ms := num(11, 13), num(14, 16), num(17, 19), num(20, 23)
	if !ok || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
		minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec,
		ms*int(time.Millisecond), time.UTC), true
}

// errNullTime is returned when a NULL is scanned into a *time.Time.
var errNullTime = errors.New("db: cannot scan NULL into *time.Time (use **time.Time)")

// timeScanner adapts SQLite's text timestamps to *time.Time or **time.Time
// destinations.
type timeScanner struct {
	t  *time.Time
	pt **time.Time
}

// Scan implements sql.Scanner.
func (s *timeScanner) Scan(src any) error {
	var (
		t   time.Time
		err error
	)
	switch v := src.(type) {
	case nil:
		if s.pt == nil {
			return errNullTime
		}
		*s.pt = nil
		return nil
	case string:
		t, err = parseTime(v)
	case []byte:
		t, err = parseTime(string(v))
	case time.Time:
		t = v.UTC()
	default:
		err = fmt.Errorf("db: cannot scan %T into a time", src)
	}
	if err != nil {
		return err
	}
	if s.pt != nil {
		tt := t // only the nullable destination needs a heap copy
		*s.pt = &tt
		return nil
	}
	*s.t = t
	return nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// scanBufCols is how many columns a pooled scan buffer covers; wider rows
// allocate their own.
const scanBufCols = 16

// scanBuf holds the substitute destinations of one Scan call.
type scanBuf struct {
	dest [scanBufCols]any
	ts   [scanBufCols]timeScanner
}

var scanBufs = sync.Pool{New: func() any { return new(scanBuf) }}

// scanText scans a row from SQLite, decoding text timestamps into *time.Time
// and **time.Time destinations. Rows without time destinations pass straight
// through.
func scanText(s scanner, dest []any) error {
	first := -1
	for i, d := range dest {
		switch d.(type) {
		case *time.Time, **time.Time:
			first = i
		}
		if first >= 0 {
			break
		}
	}
	if first < 0 {
		return s.Scan(dest...)
	}

	var (
		buf  *scanBuf
		subs []any
		ts   []timeScanner
	)
	if len(dest) <= scanBufCols {
		buf = scanBufs.Get().(*scanBuf)
		subs, ts = buf.dest[:len(dest)], buf.ts[:len(dest)]
	} else {
		subs, ts = make([]any, len(dest)), make([]timeScanner, len(dest))
	}
	for i, d := range dest {
		switch p := d.(type) {
		case *time.Time:
			ts[i] = timeScanner{t: p}
			subs[i] = &ts[i]
		case **time.Time:
			ts[i] = timeScanner{pt: p}
			subs[i] = &ts[i]
		default:
			subs[i] = d
		}
	}
	err := s.Scan(subs...)
	if buf != nil {
		clear(subs)
		clear(ts)
		scanBufs.Put(buf)
	}
	return err
}
