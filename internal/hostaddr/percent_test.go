package hostaddr

import "testing"

func TestPercentDecode(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"198%2E51%2e100%2E7", "198.51.100.7"},
		{"198%252E51", "198%2E51"},   // once: encoded twice stays encoded once
		{"50%-off %4", "50%-off %4"}, // a '%' that starts no escape is kept
		{"%zz%2", "%zz%2"},
		{"end%41", "endA"},
		{"", ""},
	} {
		b := []byte(tt.in)
		if got := string(b[:PercentDecode(b)]); got != tt.want {
			t.Errorf("PercentDecode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
