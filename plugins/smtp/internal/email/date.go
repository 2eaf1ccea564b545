package email

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Date headers are shown as Python's DateHeader shows them: the date is
// read with email.utils.parsedate_to_datetime (the lenient RFC 822 reader
// of _parseaddr._parsedate_tz) and written again with format_datetime
// ("Mon, 01 Jan 2024 10:00:00 -0500", "-0000" when the zone is unknown); a
// date that does not read, or that datetime refuses (day 31 of February, a
// zone of a day or more), is shown as it was written.

var monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul",
	"aug", "sep", "oct", "nov", "dec",
	"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december"}

var dayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

var zoneOffsets = map[string]int{"UT": 0, "UTC": 0, "GMT": 0, "Z": 0,
	"AST": -400, "ADT": -300, "EST": -500, "EDT": -400, "CST": -600, "CDT": -500,
	"MST": -700, "MDT": -600, "PST": -800, "PDT": -700}

// formatDate returns the date as Python shows it, ok=false if Python shows
// the value as it is.
func formatDate(value string) (string, bool) {
	d, ok := parseDateTZ(value)
	if !ok {
		return "", false
	}
	if d.year < 1 || d.year > 9999 || d.month < 1 || d.month > 12 || d.day < 1 ||
		d.day > daysIn(d.year, d.month) || d.hour < 0 || d.hour > 23 ||
		d.minute < 0 || d.minute > 59 || d.second < 0 || d.second > 59 {
		return "", false
	}
	zone := "-0000"
	if d.hasZone {
		if d.zone <= -86400 || d.zone >= 86400 {
			return "", false
		}
		zone = formatZone(d.zone)
	}
	t := time.Date(int(d.year), time.Month(d.month), int(d.day), int(d.hour), int(d.minute), int(d.second), 0, time.UTC)
	return fmt.Sprintf("%s, %02d %s %04d %02d:%02d:%02d %s", t.Weekday().String()[:3], d.day,
		time.Month(d.month).String()[:3], d.year, d.hour, d.minute, d.second, zone), true
}

func daysIn(year, month int64) int64 {
	return int64(time.Date(int(year), time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day())
}

// formatZone is strftime("%z") of a fixed offset in seconds.
func formatZone(seconds int64) string {
	sign := byte('+')
	if seconds < 0 {
		sign, seconds = '-', -seconds
	}
	h, m, s := seconds/3600, seconds/60%60, seconds%60
	if s != 0 {
		return fmt.Sprintf("%c%02d%02d%02d", sign, h, m, s)
	}
	return fmt.Sprintf("%c%02d%02d", sign, h, m)
}

type parsedDate struct {
	year, month, day, hour, minute, second int64
	zone                                   int64
	hasZone                                bool
}

// parseDateTZ is _parseaddr._parsedate_tz.
func parseDateTZ(value string) (parsedDate, bool) {
	var d parsedDate
	data := fieldsPy(value)
	if len(data) == 0 {
		return d, false
	}
	if strings.HasSuffix(data[0], ",") || slices.Contains(dayNames, strings.ToLower(data[0])) {
		data = data[1:]
	} else if i := strings.LastIndexByte(data[0], ','); i >= 0 {
		data[0] = data[0][i+1:]
	}
	if len(data) == 3 {
		if stuff := strings.Split(data[0], "-"); len(stuff) == 3 {
			data = append(stuff, data[1:]...)
		}
	}
	if len(data) == 4 {
		s := data[3]
		i := strings.IndexByte(s, '+')
		if i == -1 {
			i = strings.IndexByte(s, '-')
		}
		if i > 0 {
			data = append(data[:3:3], s[:i], s[i:])
		} else {
			data = append(data, "")
		}
	}
	if len(data) < 5 {
		return d, false
	}
	dd, mm, yy, tm, tz := data[0], data[1], data[2], data[3], data[4]
	if dd == "" || mm == "" || yy == "" {
		return d, false
	}
	mm = strings.ToLower(mm)
	if !slices.Contains(monthNames, mm) {
		dd, mm = mm, strings.ToLower(dd)
		if !slices.Contains(monthNames, mm) {
			return d, false
		}
	}
	month := int64(slices.Index(monthNames, mm) + 1)
	if month > 12 {
		month -= 12
	}
	dd = strings.TrimSuffix(dd, ",")
	if i := strings.IndexByte(yy, ':'); i > 0 {
		yy, tm = tm, yy
	}
	if strings.HasSuffix(yy, ",") {
		yy = yy[:len(yy)-1]
		if yy == "" {
			return d, false
		}
	}
	if yy == "" {
		panic(pyCrash("yy[0] of an empty year"))
	}
	if !(yy[0] >= '0' && yy[0] <= '9') {
		yy, tz = tz, yy
	}
	if tm == "" {
		panic(pyCrash("tm[-1] of an empty time"))
	}
	tm = strings.TrimSuffix(tm, ",")
	var thh, tmm, tss string
	switch parts := strings.Split(tm, ":"); {
	case len(parts) == 2:
		thh, tmm, tss = parts[0], parts[1], "0"
	case len(parts) == 3:
		thh, tmm, tss = parts[0], parts[1], parts[2]
	case len(parts) == 1 && strings.Contains(parts[0], "."):
		dot := strings.Split(parts[0], ".")
		switch len(dot) {
		case 2:
			thh, tmm, tss = dot[0], dot[1], "0"
		case 3:
			thh, tmm, tss = dot[0], dot[1], dot[2]
		default:
			return d, false
		}
	default:
		return d, false
	}
	var ok [5]bool
	d.year, ok[0] = pyInt(yy)
	d.day, ok[1] = pyInt(dd)
	d.hour, ok[2] = pyInt(thh)
	d.minute, ok[3] = pyInt(tmm)
	d.second, ok[4] = pyInt(tss)
	for _, k := range ok {
		if !k {
			return d, false
		}
	}
	d.month = month
	if d.year < 100 {
		if d.year > 68 {
			d.year += 1900
		} else {
			d.year += 2000
		}
	}
	tz = strings.ToUpper(tz)
	offset, known := zoneOffsets[tz]
	if !known {
		offset64, isInt := pyInt(tz)
		if !isInt {
			return d, true // no zone: a naive datetime, shown with -0000
		}
		if offset64 == 0 && strings.HasPrefix(tz, "-") {
			return d, true
		}
		if offset64 > 1<<40 || offset64 < -(1<<40) {
			return d, false
		}
		offset = int(offset64)
	}
	sign := int64(1)
	o := int64(offset)
	if o < 0 {
		sign, o = -1, -o
	}
	d.zone = sign * (o/100*3600 + o%100*60)
	d.hasZone = true
	return d, true
}

// pyInt is Python's int(s) for ASCII text: an optional sign, then digits
// with single underscores between them. Values beyond int64 are refused
// (Python would raise OverflowError when building the datetime).
func pyInt(s string) (int64, bool) {
	s = stripSpace(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' {
		return 0, false
	}
	var n int64
	prevUnderscore := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' {
			if prevUnderscore {
				return 0, false
			}
			prevUnderscore = true
			continue
		}
		prevUnderscore = false
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<62)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
