package transport

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8")}
	r := NewIPResolver(proxies)
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"spoofed from untrusted peer", "203.0.113.7:5555", []string{"1.2.3.4"}, "203.0.113.7"},
		{"trusted proxy", "10.1.2.3:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"chain skips trusted hops", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.9, 10.9.9.9"},
			"198.51.100.9"},
		{"client-prepended lie is ignored", "10.1.2.3:80", []string{"1.1.1.1", "198.51.100.9"},
			"198.51.100.9"},
		{"garbage hop stops the walk", "10.1.2.3:80", []string{"198.51.100.9, nonsense"},
			"10.1.2.3"},
		{"all trusted", "10.1.2.3:80", []string{"10.2.2.2"}, "10.2.2.2"},
		{"mapped v4", "[::ffff:203.0.113.7]:1", nil, "203.0.113.7"},
		{"v6 proxy", "[fd00::1]:1", []string{"2001:db8::5"}, "2001:db8::5"},
		{"bad remote", "garbage", nil, "invalid IP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if got := r.ClientIP(req).String(); got != tc.want {
				t.Errorf("ClientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBucketKey(t *testing.T) {
	a := BucketKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1"))
	b := BucketKey(netip.MustParseAddr("2001:db8:1:2:ffff::9"))
	c := BucketKey(netip.MustParseAddr("2001:db8:1:3::1"))
	if a != b || a == c {
		t.Errorf("v6 /64 bucketing: %s %s %s", a, b, c)
	}
	if BucketKey(netip.MustParseAddr("192.0.2.1")) != "192.0.2.1" {
		t.Error("v4 bucket")
	}
}

func BenchmarkClientIP(b *testing.B) {
	r := NewIPResolver([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	req := &http.Request{RemoteAddr: "10.1.2.3:80", Header: http.Header{
		"X-Forwarded-For": {"198.51.100.9, 10.9.9.9"}}}
	b.ReportAllocs()
	for b.Loop() {
		r.ClientIP(req)
	}
}
