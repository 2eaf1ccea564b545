package configparser

import (
	"testing"
	"time"
)

func TestParseDurationRefusesNegativeNaNAndOverflow(t *testing.T) {
	for in, want := range map[string]time.Duration{"2.5": 2500 * time.Millisecond, "1m30s": 90 * time.Second, " 0 ": 0} {
		if d, ok := ParseDuration(in); !ok || d != want {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v", in, d, ok, want)
		}
	}
	for _, in := range []string{"-1", "NaN", "1e300", "9223372037", "forever", "-1s", "99999999h"} {
		if d, ok := ParseDuration(in); ok {
			t.Errorf("ParseDuration(%q) = %v, want refused", in, d)
		}
	}
}

func TestParseIntIsStrict(t *testing.T) {
	if n, err := ParseInt(" 42 "); err != nil || n != 42 {
		t.Errorf("ParseInt = %d, %v", n, err)
	}
	for _, in := range []string{"12abc", "1e3", "0x10", "1_000", "", "99999999999999999999"} {
		if n, err := ParseInt(in); err == nil {
			t.Errorf("ParseInt(%q) = %d, want an error", in, n)
		}
	}
}
