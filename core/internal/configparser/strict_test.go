package configparser

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// strictCases are files configparser (strict=True, its default) accepts or
// refuses; wantLine is the line the error must name.
var strictCases = []struct {
	name, text string
	wantLine   string // "" when the file is accepted
	stoqOnly   bool   // refused by stoq only: sections differing in case are one section here
}{
	{name: "plain", text: "[core]\nmax_queue = 5\n\n[hash]\ntimeout: 3\n"},
	{name: "comments and blanks", text: "# top\n; also\n\n[core]\n  # indented comment\nmax_queue = 5\n"},
	{name: "continuation", text: "[core]\nconnectors = a,\n    b\n"},
	{name: "empty value", text: "[core]\nlog_dir =\n"},
	{name: "value holding = and :", text: "[p]\nurl = http://h:9200/?a=b\n"},
	{name: "text after the header", text: "[core] ; the core\nmax_queue = 5\n"},
	{name: "byte order mark", text: "\ufeff[core]\nmax_queue = 5\n"},
	{name: "crlf", text: "[core]\r\nmax_queue = 5\r\n"},
	{name: "key before any section", text: "max_queue = 5\n[core]\n", wantLine: "line 1:"},
	{name: "garbage before any section", text: "\n\ngarbage\n[core]\n", wantLine: "line 3:"},
	{name: "empty key", text: "[core]\n= 5\n", wantLine: "line 2:"},
	{name: "blank key", text: "[core]\n   : 5\n", wantLine: "line 2:"},
	{name: "indented line continues a value", text: "[core]\nmax_queue = 1\n   : 5\n"},
	{name: "garbage line", text: "[core]\nmax_queue = 1\nnot an option\n", wantLine: "line 3:"},
	{name: "duplicate section", text: "[core]\nmax_queue = 5\n[hash]\n[core]\nmax_queue = 6\n", wantLine: "line 4:"},
	{name: "duplicate option", text: "[core]\nmax_queue = 5\nmax_queue = 6\n", wantLine: "line 3:"},
	{name: "duplicate option differing in case", text: "[core]\nmax_queue = 5\nMAX_QUEUE = 6\n", wantLine: "line 3:"},
	{name: "duplicate section differing in case", text: "[Core]\n[core]\n", wantLine: "line 2:", stoqOnly: true},
}

func TestParseIsStrictAsConfigparser(t *testing.T) {
	for _, c := range strictCases {
		_, err := Parse([]byte(c.text))
		switch {
		case c.wantLine == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.wantLine != "" && err == nil:
			t.Errorf("%s: accepted, want an error naming %s", c.name, c.wantLine)
		case c.wantLine != "" && !strings.HasPrefix(err.Error(), c.wantLine):
			t.Errorf("%s: error %q does not start with %q", c.name, err, c.wantLine)
		}
	}
}

// TestStrictCasesMatchPython runs the same files through Python's
// configparser (Debian's /usr/bin/python3), the reference.
func TestStrictCasesMatchPython(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing", python)
		}
		t.Skipf("%s is missing: cannot compare with configparser", python)
	}
	// One Python process reads every case (JSON on stdin) and prints, per
	// case, "ok" or the line configparser names.
	script := `import configparser, json, sys
for text in json.load(sys.stdin):
    p = configparser.ConfigParser(interpolation=None)
    try:
        p.read_string(text)
        print("ok")
    except configparser.MissingSectionHeaderError as e:
        print("line %d:" % e.lineno)
    except configparser.ParsingError as e:
        print("line %d:" % e.errors[0][0])
    except configparser.Error as e:
        print("line %d:" % e.lineno)
`
	var texts []string
	var cases []int
	for i, c := range strictCases {
		if !c.stoqOnly {
			texts = append(texts, strings.TrimPrefix(c.text, "\ufeff"))
			cases = append(cases, i)
		}
	}
	in, _ := json.Marshal(texts)
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	answers := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(answers) != len(cases) {
		t.Fatalf("python answered %d cases of %d:\n%s", len(answers), len(cases), out)
	}
	for k, i := range cases {
		c := strictCases[i]
		want := c.wantLine
		if want == "" {
			want = "ok"
		}
		if answers[k] != want {
			t.Errorf("%s: configparser says %q, stoq says %q", c.name, answers[k], want)
		}
	}
}

func TestErrorsQuoteBinaryBytes(t *testing.T) {
	binary := "\x7fELF\x02\x01\x01\x00\x00\x1b[31m = red\n[core]\n"
	_, err := Parse([]byte(binary))
	if err == nil {
		t.Fatal("a binary file parsed")
	}
	for _, b := range err.Error() {
		if b < 0x20 || b == 0x7f || b > 0x7e && b < 0xa0 {
			t.Fatalf("error holds control byte %#x: %q", b, err)
		}
	}
	if !strings.Contains(err.Error(), `\x1b[31m`) {
		t.Errorf("error does not show the escape sequence escaped: %s", err)
	}
	long := strings.Repeat("\x01", 10000) + "\n"
	if _, err := Parse([]byte(long)); err == nil || len(err.Error()) > 400 {
		t.Errorf("error for a long binary line is %d bytes: %.100q", len(err.Error()), err)
	}
}
