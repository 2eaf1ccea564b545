package configparser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
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
	{name: "DEFAULT twice", text: "[DEFAULT]\na = 1\n[core]\n[DEFAULT]\nb = 2\n"},
	{name: "an option twice in DEFAULT given twice", text: "[DEFAULT]\na = 1\n[DEFAULT]\na = 2\n", wantLine: "line 4:"},
	{name: "blank line then a deeper line", text: "[core]\nconnectors = a\n\n   b\n"},
	{name: "no delimiter after a blank line", text: "[core]\nconnectors = a\n\nb\n", wantLine: "line 4:"},
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

// pythonScript reads a JSON list of texts on stdin and prints, per text,
// what Python's configparser.ConfigParser (its defaults, the parser stoQ
// uses) makes of it as a file (universal newlines): {"ok": {section: {key:
// value}}}, or {"line": N}, N the first line configparser refuses (the
// shortest refused prefix: it reports some errors only at the end).
const pythonScript = `import configparser, io, json, sys
def parse(text):
    p = configparser.ConfigParser()
    p.read_file(io.StringIO(text, newline=None))
    return {s: {k: p.get(s, k) for k in p[s]} for s in p.sections()}
def parses(text):
    try:
        parse(text)
        return True
    except configparser.Error:
        return False
def lines(text):
    out, start, i = [], 0, 0
    while i < len(text):
        if text[i] == '\n' or text[i] == '\r':
            if text[i] == '\r' and text[i+1:i+2] == '\n':
                i += 1
            out.append(text[start:i+1])
            start = i + 1
        i += 1
    if start < len(text):
        out.append(text[start:])
    return out
for text in json.load(sys.stdin):
    try:
        print(json.dumps({"ok": parse(text)}))
    except configparser.Error:
        ls = lines(text)
        n = next(n for n in range(1, len(ls) + 1) if not parses(''.join(ls[:n])))
        print(json.dumps({"line": n}))
`

// pythonAnswer is one line of pythonScript's output.
type pythonAnswer struct {
	OK   Sections `json:"ok"`
	Line int      `json:"line"`
}

// askPython runs pythonScript over texts under Debian's /usr/bin/python3,
// the reference; without it the test is skipped, or fails under CI.
func askPython(t *testing.T, texts []string) []pythonAnswer {
	t.Helper()
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing", python)
		}
		t.Skipf("%s is missing: cannot compare with configparser", python)
	}
	in, err := json.Marshal(texts)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", pythonScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var answers []pythonAnswer
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var a pythonAnswer
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("python's answer %d: %v", len(answers), err)
		}
		answers = append(answers, a)
	}
	if len(answers) != len(texts) {
		t.Fatalf("python answered %d texts of %d", len(answers), len(texts))
	}
	return answers
}

// stoqAnswer is what Parse makes of text, in pythonAnswer's terms.
func stoqAnswer(t *testing.T, text string) pythonAnswer {
	t.Helper()
	s, err := Parse([]byte(text))
	if err == nil {
		return pythonAnswer{OK: s}
	}
	var n int
	if _, serr := fmt.Sscanf(err.Error(), "line %d:", &n); serr != nil {
		t.Fatalf("%q: error %q names no line", text, err)
	}
	return pythonAnswer{Line: n}
}

// TestStrictCasesMatchPython runs the strict cases through Python's
// configparser: it accepts and refuses the same files, naming the same
// line.
func TestStrictCasesMatchPython(t *testing.T) {
	var texts []string
	var cases []int
	for i, c := range strictCases {
		if !c.stoqOnly {
			texts = append(texts, strings.TrimPrefix(c.text, "\ufeff"))
			cases = append(cases, i)
		}
	}
	for k, a := range askPython(t, texts) {
		c := strictCases[cases[k]]
		want := "ok"
		if a.Line > 0 {
			want = fmt.Sprintf("line %d:", a.Line)
		}
		got := c.wantLine
		if got == "" {
			got = "ok"
		}
		if got != want {
			t.Errorf("%s: configparser says %q, the case %q", c.name, want, got)
		}
	}
}

// valueCases are files whose values configparser reads in ways an INI
// library may not: TestValuesMatchPython checks Parse reads them the same.
var valueCases = []string{
	"[s]\nk = a\n\n  b\n",                           // a blank line inside a value
	"[s]\nk = a\n  # c\n  b\n",                      // a comment line inside a value
	"[s]\nk = a\n\n  ; c\n  b\n\nj = 2\n",           // both
	"[s]\nk = a ; b # c\n",                          // no inline comments
	"[s]\nk = \"a b\"\n[t]\n\"q\" = 'v'\nb = `x`\n", // quotes are characters
	"[s]\nk = a\\\n b\n",                            // so is a backslash at the end
	"[s]\nk = C:\\data\\\nj = 1\n",
	"[s]\n  k = v\n  j = w\n",         // same indentation: two options
	"[s]\n  k = v\n    j = w\n",       // deeper: a continuation
	"[s]\nk = a\n\tb\n\u3000c\n",      // tabs and ideographic spaces indent
	"[s]\nk = a\n\x1cb\n",             // so does U+001C, for Python
	"[s]\nk =\n  a\n  b\n\n\n",        // a value starting empty, blank lines after
	"[s]\nk : a = b\n[t]\nk = a: b\n", // the first delimiter splits
	"[s]\nk = 100%%\n",
	"[s]\nk = \u00a0v\u00a0\n", // Unicode spaces around a value
	"[s]\nmy Key = v\n",
	"[s] ; the section\nk = v\n[a]b]\nk = w\n",
	"[DEFAULT]\nd = 1\n[s]\nk = 2\n[DEFAULT]\ne = 3\n[t]\nd = 4\n",
	"[s]\r\nk = a\r\n  b\rj = 2\r", // CRLF and CR line ends
	"[s]\nk = a\n  [t]\n",          // an indented header continues a value
}

func TestValuesMatchPython(t *testing.T) {
	for i, a := range askPython(t, valueCases) {
		if a.Line > 0 {
			t.Errorf("case %d %q: configparser refuses line %d", i, valueCases[i], a.Line)
			continue
		}
		if got := stoqAnswer(t, valueCases[i]); !reflect.DeepEqual(got, a) {
			t.Errorf("case %d %q:\n stoq   %v\n python %v", i, valueCases[i], got, a.OK)
		}
	}
}

// TestGeneratedFilesMatchPython compares Parse with configparser on
// thousands of files made of the pieces where INI readers differ:
// indentation by any kind of space, comments and blank lines inside and
// between values, quotes, backslashes, delimiters, duplicates, headers
// with text around them, [DEFAULT] given twice, three kinds of line ends.
// The files are drawn from a fixed seed, so every run checks the same
// ones.
func TestGeneratedFilesMatchPython(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	line := func() string {
		switch rng.IntN(10) {
		case 0:
			return pick("[s]", "[t]", "[DEFAULT]", "  [t]", "[s] ; x", "[a]b]", "[]", "[ u ]")
		case 1, 2, 3, 4:
			return pick("", " ", "\t") + pick("k", "K", "j", "my key", "x.y", "v2", "a") +
				pick("=", ":", " = ", " : ", "=:", " =") +
				pick("v", "", " a b ", `"q"`, "'q'", "`x`", `a\`, "100%%", "a ; b", "a # b", "x=y", "http://h:1/", "\u00a0v\u00a0", "v\u3000", "\x1fv")
		case 5, 6:
			return pick("  ", "\t", "\u3000", "\x1c", " ", "    ") + pick("more", "k = v", "# not a comment?", "x", `"q"`, "[t]")
		case 7:
			return pick("#c", ";c", "  # c", "\t; c", "#")
		case 8:
			return pick("", "", "   ", "\t")
		}
		return pick("garbage", "=x", ": x", "k")
	}
	const files = 3000
	texts := make([]string, files)
	for i := range texts {
		var b strings.Builder
		if rng.IntN(10) > 0 {
			b.WriteString(pick("[s]", "[DEFAULT]", "[t]") + "\n")
		}
		for range 1 + rng.IntN(9) {
			b.WriteString(line())
			b.WriteString(pick("\n", "\n", "\n", "\n", "\r\n", "\r"))
		}
		texts[i] = b.String()
	}
	accepted := 0
	for i, want := range askPython(t, texts) {
		got := stoqAnswer(t, texts[i])
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n stoq   %+v\n python %+v", texts[i], got, want)
		}
		if want.Line == 0 {
			accepted++
		}
	}
	// Both kinds must be well represented for the comparison to mean
	// something.
	if accepted < files/5 || accepted > files*4/5 {
		t.Errorf("configparser accepted %d files of %d: the generator needs rebalancing", accepted, files)
	}
	t.Logf("%d files, %d accepted by configparser", files, accepted)
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
