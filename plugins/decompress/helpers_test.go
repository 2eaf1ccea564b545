package decompress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// toolPackages are the Debian packages of the reference tools.
var toolPackages = map[string]string{
	"zip": "zip", "unzip": "unzip", "7z": "p7zip-full", "tar": "tar", "gzip": "gzip", "bzip2": "bzip2",
	"xz": "xz-utils", "zstd": "zstd", "gcab": "gcab", "ar": "binutils", "cpio": "cpio",
}

// need skips the test when a reference tool is missing, and fails it under
// CI (CI=true), where scripts/deps.sh must have installed it.
func need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		stoqtest.Command(t, tool, toolPackages[tool])
	}
}

// run runs a reference tool in dir, in UTC and a UTF-8 locale, and returns
// its standard output.
func run(t testing.TB, dir, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C.UTF-8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// shell runs a shell pipeline in dir (for tools that write to stdout).
func shell(t testing.TB, dir, script string) {
	t.Helper()
	run(t, dir, "sh", "-c", "set -e; "+script)
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// text returns n bytes of compressible, text-like content.
func text(n int, seed uint64) []byte {
	words := []string{"invoice", "payment", "stoq", "archive", "attached", "please", "find", "the", "of", "report\n"}
	r := rand.New(rand.NewPCG(seed, seed))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

// corpusMTime is every corpus file's modification time.
var corpusMTime = time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)

// corpus is a folder of files to archive: src/ under a temporary folder.
type corpus struct {
	dir   string            // the temporary folder; archives go here
	src   string            // dir/src
	files map[string][]byte // path under src (slash-separated) -> content
}

// newCorpus writes the standard test files: text, random bytes, zeros
// below the ratio floor, an empty file, names with spaces and non-ASCII
// letters, nested folders.
func newCorpus(t testing.TB) corpus {
	t.Helper()
	dir := t.TempDir()
	c := corpus{dir: dir, src: filepath.Join(dir, "src"), files: map[string][]byte{
		"hello.txt":               []byte("hello, stoq\n"),
		"docs/report.txt":         text(3<<20, 1),
		"docs/random.bin":         randomBytes(300_000, 2),
		"docs/deep/zeros.bin":     make([]byte, 900_000),
		"empty.txt":               {},
		"with space/résumé ü.txt": []byte("non-ASCII name\n"),
	}}
	for name, content := range c.files {
		p := filepath.Join(c.src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, corpusMTime, corpusMTime); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// newWorker builds the plugin with opts over its manifest's defaults.
func newWorker(t testing.TB, opts map[string]string) *Plugin {
	t.Helper()
	return stoqtest.New[*Plugin](t, "decompress", opts)
}

// scan runs the worker on content named name, as the engine would.
func scan(t testing.TB, w *Plugin, content []byte, name string) *core.WorkerResponse {
	t.Helper()
	extra := map[string]any{}
	if name != "" {
		extra["filename"] = name
	}
	p := stoqtest.Payload(content, extra)
	resp, err := w.Scan(context.Background(), p, stoqtest.Request(p))
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return resp
}

func scanFile(t testing.TB, w *Plugin, path string) *core.WorkerResponse {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return scan(t, w, content, filepath.Base(path))
}

// extractedByName maps each extracted payload's extra_data filename to it.
func extractedByName(t testing.TB, resp *core.WorkerResponse) map[string]core.ExtractedPayload {
	t.Helper()
	out := map[string]core.ExtractedPayload{}
	for _, ex := range resp.Extracted {
		name, _ := ex.PayloadMeta.ExtraData["filename"].(string)
		if _, dup := out[name]; dup {
			t.Errorf("%q extracted twice", name)
		}
		out[name] = ex
	}
	return out
}

func errorMessages(resp *core.WorkerResponse) []string {
	var out []string
	for _, e := range resp.Errors {
		out = append(out, e.Message)
	}
	return out
}

// sltEntry is one entry of `7z l -slt`.
type sltEntry struct {
	Path, Size, Packed, Modified, Attributes, Encrypted, Folder string
}

// sevenZipList lists an archive with `7z l -slt`, regular files only.
func sevenZipList(t testing.TB, archive string, extra ...string) []sltEntry {
	t.Helper()
	out := run(t, filepath.Dir(archive), "7z", append(append([]string{"l", "-slt"}, extra...), "--", archive)...)
	var entries []sltEntry
	sc := bufio.NewScanner(bytes.NewReader(out))
	started := false
	var cur *sltEntry
	for sc.Scan() {
		line := sc.Text()
		if line == "----------" {
			started = true
			continue
		}
		if !started {
			continue
		}
		key, value, _ := strings.Cut(line, " = ")
		key = strings.TrimSuffix(key, " =")
		switch key {
		case "Path":
			entries = append(entries, sltEntry{Path: value})
			cur = &entries[len(entries)-1]
		case "Size":
			cur.Size = value
		case "Packed Size":
			cur.Packed = value
		case "Modified":
			cur.Modified = value
		case "Attributes":
			cur.Attributes = strings.TrimSpace(value)
		case "Encrypted":
			cur.Encrypted = value
		case "Folder":
			cur.Folder = value
		}
	}
	var files []sltEntry
	for _, e := range entries {
		if e.Folder == "+" || strings.HasPrefix(e.Attributes, "D") {
			continue
		}
		files = append(files, e)
	}
	return files
}
