package filedir

import (
	"fmt"
	"strings"
	"time"
)

// strftimeLayouts maps the strftime directives stoQ users write in
// date_format to the Go layout that prints the same thing.
var strftimeLayouts = map[byte]string{
	'Y': "2006",    // year, four digits
	'm': "01",      // month, zero-padded
	'd': "02",      // day of the month, zero-padded
	'H': "15",      // hour 00-23
	'M': "04",      // minute
	'S': "05",      // second
	'y': "06",      // year without century
	'j': "002",     // day of the year, 001-366
	'b': "Jan",     // abbreviated month name
	'B': "January", // full month name
	'a': "Mon",     // abbreviated weekday name
	'A': "Monday",  // full weekday name
	'p': "PM",      // AM or PM
	'Z': "MST",     // time zone abbreviation
	'z': "-0700",   // UTC offset
}

// datePart is one piece of a converted strftime format: either literal text
// or a Go layout for a single directive. Go layouts cannot escape literal
// text (a literal "Mon" or "01" would be read as a directive), so literal
// text is never passed to time.Format.
type datePart struct {
	literal string
	layout  string
}

// dateFormat is a strftime format converted for Go's time package.
type dateFormat []datePart

// parseStrftime converts a strftime format (%Y/%m/%d) into a dateFormat.
// It supports %Y %m %d %H %M %S %y %j %b %B %a %A %p %Z %z and %%; any other
// directive, or a trailing lone %, is an error naming it.
func parseStrftime(format string) (dateFormat, error) {
	var (
		out     dateFormat
		literal strings.Builder
	)
	flush := func() {
		if literal.Len() > 0 {
			out = append(out, datePart{literal: literal.String()})
			literal.Reset()
		}
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			literal.WriteByte(c)
			continue
		}
		if i+1 == len(format) {
			return nil, fmt.Errorf("date format %q ends with a lone %%: write %%%% for a literal %%", format)
		}
		i++
		d := format[i]
		if d == '%' {
			literal.WriteByte('%')
			continue
		}
		layout, ok := strftimeLayouts[d]
		if !ok {
			return nil, fmt.Errorf("date format %q: unsupported directive %%%c at offset %d (supported: %%Y %%m %%d %%H %%M %%S %%y %%j %%b %%B %%a %%A %%p %%Z %%z %%%%)", format, d, i-1)
		}
		flush()
		out = append(out, datePart{layout: layout})
	}
	flush()
	return out, nil
}

// Format prints t with the format, as strftime would.
func (f dateFormat) Format(t time.Time) string {
	buf := make([]byte, 0, 32)
	for _, p := range f {
		if p.layout != "" {
			buf = t.AppendFormat(buf, p.layout)
		} else {
			buf = append(buf, p.literal...)
		}
	}
	return string(buf)
}
