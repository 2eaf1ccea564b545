package smtp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// The reference is Python's own email package, run with Debian's
// /usr/bin/python3 (the python3 on PATH may be a pyenv build without
// Debian's modules). Without it the comparisons are skipped, except under
// CI (CI=true), where they fail.

const pythonPath = "/usr/bin/python3"

func python(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(pythonPath); err != nil {
		stoqtest.Missing(t, "%s is not installed (apt-get install -y python3, or ./scripts/deps.sh): %v", pythonPath, err)
	}
	return pythonPath
}

// pyMessage is what testdata/pyemail.py reports for one message.
type pyMessage struct {
	Headers     map[string]string `json:"headers"`
	Body        *string           `json:"body"`
	BodyHTML    *string           `json:"body_html"`
	BodyCodec   *string           `json:"body_codec"`
	HTMLCodec   *string           `json:"body_html_codec"`
	Attachments []pyAttachment    `json:"attachments"`
	Crashed     []string          `json:"crashed"`
	Error       *string           `json:"error"`
}

type pyAttachment struct {
	Type               string            `json:"type"`
	Charset            *string           `json:"charset"`
	ContentDescription *string           `json:"content-description"`
	Disposition        *string           `json:"disposition"`
	Filename           *string           `json:"filename"`
	SHA256             *string           `json:"sha256"`
	Message            bool              `json:"message"`
	InnerHeaders       map[string]string `json:"inner_headers"`
	InnerCrashed       []string          `json:"inner_crashed"`
}

// pythonMessages runs pyemail.py on the files.
func pythonMessages(t testing.TB, paths []string) []pyMessage {
	t.Helper()
	in, err := json.Marshal(paths)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python(t), filepath.Join("testdata", "pyemail.py"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyemail.py: %v\n%s", err, stderr.String())
	}
	var msgs []pyMessage
	if err := json.Unmarshal(out, &msgs); err != nil {
		t.Fatalf("pyemail.py: %v", err)
	}
	if len(msgs) != len(paths) {
		t.Fatalf("pyemail.py answered for %d messages of %d", len(msgs), len(paths))
	}
	return msgs
}

// pythonGenerated writes the messages of testdata/pygen.py into dir and
// returns their paths, sorted.
func pythonGenerated(t testing.TB, dir string) []string {
	t.Helper()
	cmd := exec.Command(python(t), filepath.Join("testdata", "pygen.py"), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pygen.py: %v\n%s", err, out)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	return paths
}

func writeFiles(t testing.TB, dir string, files map[string][]byte) []string {
	t.Helper()
	var paths []string
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func strOrNil(v any) string {
	switch s := v.(type) {
	case nil:
		return "<None>"
	case string:
		return s
	case *string:
		if s == nil {
			return "<None>"
		}
		return *s
	}
	return fmt.Sprint(v)
}

// eastAsianCodecs are the Python codecs (codecs.lookup(...).name) whose
// decoding is golang.org/x/text's.
var eastAsianCodecs = map[string]bool{"shift_jis": true, "cp932": true, "euc_jp": true, "iso2022_jp": true,
	"euc_kr": true, "cp949": true, "gb2312": true, "gbk": true, "gb18030": true, "hz": true, "big5": true,
	"cp950": true, "big5hkscs": true, "shift_jis_2004": true, "shift_jisx0213": true, "euc_jis_2004": true,
	"euc_jisx0213": true}

// tolerated counts the damaged East Asian bodies compareWithPython let
// differ.
var tolerated atomic.Int64

// compareWithPython checks the worker's response for one message against
// what Python found, and returns the differences.
func compareWithPython(t testing.TB, w *Plugin, content []byte, want pyMessage) []string {
	t.Helper()
	var diffs []string
	diff := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	resp := stoqtest.Scan(t, w, content)
	got := resp.Results.(map[string]string)
	for k, v := range want.Headers {
		if got[k] != v {
			diff("header %q = %q, Python %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want.Headers[k]; !ok && k != "body" && k != "body_html" && !slices.Contains(want.Crashed, "header:"+k) {
			diff("header %q = %q, Python has none", k, got[k])
		}
	}
	for _, b := range []struct {
		key   string
		want  *string
		codec *string
	}{{"body", want.Body, want.BodyCodec}, {"body_html", want.BodyHTML, want.HTMLCodec}} {
		if slices.Contains(want.Crashed, b.key) || b.want == nil {
			continue
		}
		if got[b.key] != *b.want {
			if b.codec != nil && eastAsianCodecs[*b.codec] && strings.ContainsRune(*b.want, utf8.RuneError) {
				// Damaged East Asian text: golang.org/x/text's decoders
				// resynchronise differently from Python's (see README).
				tolerated.Add(1)
				continue
			}
			diff("%s = %q, Python %q", b.key, got[b.key], *b.want)
		}
	}
	if slices.Contains(want.Crashed, "attachments") {
		return diffs
	}
	if len(resp.Extracted) != len(want.Attachments) {
		var names []string
		for _, ex := range resp.Extracted {
			names = append(names, strOrNil(ex.PayloadMeta.ExtraData["filename"]))
		}
		diff("%d extracted payloads %q, Python %d attachments", len(resp.Extracted), names, len(want.Attachments))
		return diffs
	}
	for i, a := range want.Attachments {
		ex := resp.Extracted[i]
		ed := ex.PayloadMeta.ExtraData
		for _, f := range []struct {
			key  string
			want string
		}{
			{"type", a.Type}, {"charset", strOrNil(a.Charset)}, {"content-description", strOrNil(a.ContentDescription)},
			{"disposition", strOrNil(a.Disposition)}, {"filename", strOrNil(a.Filename)},
		} {
			if strOrNil(ed[f.key]) != f.want {
				diff("attachment %d %s = %q, Python %q", i, f.key, strOrNil(ed[f.key]), f.want)
			}
		}
		if a.Message {
			if !slices.Contains(ex.PayloadMeta.DispatchTo, "smtp") {
				diff("attached message %d not dispatched to smtp: %v", i, ex.PayloadMeta.DispatchTo)
			}
			inner := stoqtest.Scan(t, w, ex.Content).Results.(map[string]string)
			for k, v := range a.InnerHeaders {
				if inner[k] != v {
					diff("attached message %d: header %q = %q, Python %q", i, k, inner[k], v)
				}
			}
			continue
		}
		if a.SHA256 != nil && sha(ex.Content) != *a.SHA256 {
			diff("attachment %d (%s): sha256 %s (%d bytes), Python %s", i, strOrNil(a.Filename), sha(ex.Content), len(ex.Content), *a.SHA256)
		}
	}
	return diffs
}

// errorsMention reports whether one of the errors contains s.
func errorsMention(errs []core.Error, s string) bool {
	for _, e := range errs {
		if bytes.Contains([]byte(e.Message), []byte(s)) {
			return true
		}
	}
	return false
}
