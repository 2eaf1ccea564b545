package filedir

import (
	"strings"
	"testing"
	"time"
)

func TestStrftimeConversion(t *testing.T) {
	// Saturday 7 March 2026, 21:05:09 at UTC+01:30, zone "XST".
	at := time.Date(2026, 3, 7, 21, 5, 9, 0, time.FixedZone("XST", 90*60))
	for _, tc := range []struct{ format, want string }{
		{"%Y/%m/%d", "2026/03/07"},
		{"%H:%M:%S", "21:05:09"},
		{"%y", "26"},
		{"%j", "066"},
		{"%b %B", "Mar March"},
		{"%a %A", "Sat Saturday"},
		{"%p", "PM"},
		{"%Z", "XST"},
		{"%z", "+0130"},
		{"100%%", "100%"},
		{"%%Y", "%Y"},
		{"", ""},
		{"plain", "plain"},
		// Literal text that Go would read as layout elements stays literal.
		{"Mon Jan 2 15:04:05 MST 2006 PM 01 002", "Mon Jan 2 15:04:05 MST 2006 PM 01 002"},
		{"Jan-%Y-Monday", "Jan-2026-Monday"},
		{"%Y%m%d%H%M%S", "20260307210509"},
		{"%d%j", "07066"},
		{"é/%Y", "é/2026"},
	} {
		f, err := parseStrftime(tc.format)
		if err != nil {
			t.Errorf("parseStrftime(%q): %v", tc.format, err)
			continue
		}
		if got := f.Format(at); got != tc.want {
			t.Errorf("%q prints %q, want %q", tc.format, got, tc.want)
		}
	}
	// Morning: %p is AM, and days of the year pad to three digits.
	morning := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if f, _ := parseStrftime("%p %j %Z %z"); f.Format(morning) != "AM 002 UTC +0000" {
		t.Errorf("got %q", f.Format(morning))
	}
}

func TestStrftimeRejectsUnknownDirectives(t *testing.T) {
	for _, tc := range []struct{ format, mention string }{
		{"%Q", "%Q"},
		{"%Y/%e", "%e"},
		{"%", "lone %"},
		{"%Y%", "lone %"},
		{"%-d", "%-"},
		{"%c", "%c"},
	} {
		_, err := parseStrftime(tc.format)
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("parseStrftime(%q) = %v, want an error mentioning %q", tc.format, err, tc.mention)
		}
	}
}

func FuzzParseStrftime(f *testing.F) {
	for _, seed := range []string{"%Y/%m/%d", "%%", "%", "Mon Jan %d", "%H%M%S%j%Z%z", "%x", "\xff%Y"} {
		f.Add(seed)
	}
	at := time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC)
	f.Fuzz(func(t *testing.T, format string) {
		df, err := parseStrftime(format)
		if err != nil {
			return
		}
		out := df.Format(at)
		// Without directives the format prints itself (%% as %).
		if !strings.Contains(strings.ReplaceAll(format, "%%", ""), "%") && out != strings.ReplaceAll(format, "%%", "%") {
			t.Fatalf("%q printed %q", format, out)
		}
	})
}
