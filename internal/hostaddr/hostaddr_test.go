package hostaddr

import "testing"

func TestHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"news.example.com", false},
		{"123.example.com", false},
		{"1.2.3.example.com", false},
		{"2025-11-28-1.example.com", false},
		{"xn--bcher-kva.example", false},
		{"cafe-babe.example", false},
		{"deadbeef.example", true}, // eight hex letters: 222.173.190.239
		{"deadbeef.nip.io", true},
		{"pfacebade.dip0.example.de", true},
		{"abcdefgh.example.com", false},
		{"accessed.example.com", false},
		{"20251128.example.com", true},
		{"ip6-2001-db8--7.example.net", true},
		{"app-5f3a9c1e2.example.com", false},
		{"202511281830.example", false},
		{"198.51.100.7", true},
		{"198.51.100.7.", true},
		{"3325256711", true},
		{"0xc6336407", true},
		{"2001:db8::7", true},
		{"[2001:db8::7]", true},
		{"198.51.100.7.nip.io", true},
		{"app.10.0.0.1.nip.io", true},
		{"198-51-100-7.sslip.io", true},
		{"ec2-198-51-100-7.compute-1.amazonaws.com", true},
		{"ip198.51.100.7x.example", true},
		{"2001-db8--7.sslip.io", true},
		{"app-c6336407.nip.io", true},
		{"p5dc5a9f2.dip0.t-ipconnect.de", true},
		{"198051100077.ip.example.net", true},
		{"20010db8000100020000000000000007.ip6.example", true},
	}
	for _, tt := range tests {
		if got := Host(tt.host); got != tt.want {
			t.Errorf("Host(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestReferrer(t *testing.T) {
	tests := []struct {
		ref  string
		want bool
	}{
		{"news.example.com", false},
		{"https://example.com/a?b=c", false},
		{"https://deadbeef.nip.io/a", true},
		{"deadbeef.nip.io:443", true},
		{"deadbeef.nip.io", true},
		{"https://user:pw@example.com:8443/1.2.3.4.png", false},
		{"example.com:8080", false},
		{"app.example:443", false},
		{"198.51.100.7", true},
		{"198.51.100.7:80", true},
		{"http://198.51.100.7:8080/x", true},
		{"https://user@198-51-100-7.sslip.io/", true},
		{"http://[2001:db8::7]:80/", true},
		{"2001:db8::7", true},
		{"[2001:db8::7]", true},
		{"https://app-c6336407.nip.io/x", true},
	}
	for _, tt := range tests {
		if got := Referrer(tt.ref); got != tt.want {
			t.Errorf("Referrer(%q) = %v, want %v", tt.ref, got, tt.want)
		}
	}
}

// TestMayHold checks that MayHold finds, in text with an address in
// each form package logmask masks, a byte that form needs, and none in
// text without them.
func TestMayHold(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"spring-sale", false},
		{"/c/abc?ref=home", false},
		{"promo.html", false},
		{"198.51.100.7", true},
		{"2001:db8::7", true},
		{"2001%3Adb8%3A%3A7", true},
		{"session=<ESIzRFVmOTDLAHEJ>", true},
		{"c633644d.nip.io", true},
		{"go/ip-10-0-0-5", true},
		{"host-203-0-113-9", true},
		{"{203,0,113,9}", true},
	}
	for _, tt := range tests {
		if got := MayHold(tt.s); got != tt.want {
			t.Errorf("MayHold(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestHostAllocs(t *testing.T) {
	for _, host := range []string{"news.example.com", "198.51.100.7.nip.io", "p5dc5a9f2.dip0.t-ipconnect.de"} {
		if n := testing.AllocsPerRun(100, func() { Host(host) }); n != 0 {
			t.Errorf("Host(%q): %v allocations", host, n)
		}
	}
}

func BenchmarkHost(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if Host("news.example.com") {
			b.Fatal("an address")
		}
	}
}
