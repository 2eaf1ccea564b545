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
	if n, ok := ParseInt(" 42 "); !ok || n != 42 {
		t.Errorf("ParseInt = %d, %v", n, ok)
	}
	for _, in := range []string{"12abc", "1e3", "0x10", "1_000", "", "99999999999999999999"} {
		if n, ok := ParseInt(in); ok {
			t.Errorf("ParseInt(%q) = %d, want refused", in, n)
		}
	}
}

func TestParseSizeRefusesNegativeSizes(t *testing.T) {
	for _, in := range []string{"-1", "-16777215 TiB", "-1KiB"} {
		if n, ok := ParseSize(in); ok {
			t.Errorf("ParseSize(%q) = %d, want refused", in, n)
		}
	}
	if n, ok := ParseSize("2 KiB"); !ok || n != 2048 {
		t.Errorf("ParseSize(2 KiB) = %d, %v", n, ok)
	}
}
