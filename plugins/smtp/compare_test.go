package smtp

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// TestMessagesMatchPython compares the worker with Python's email package
// on messages Python's email package built (pygen.py), on the broken ones
// of corpus_test.go, and on random line-level mutations of both: the same
// headers, bodies, attachments (bytes, filename, type, charset,
// disposition, description) and attached messages.
//
// SMTP_MUTANTS (mutants per message, default 12) and SMTP_MUTANT_SEED
// widen the search by hand.
func TestMessagesMatchPython(t *testing.T) {
	python(t)
	mutantsPerMessage, mutantSeed := 12, uint64(0)
	if n, err := strconv.Atoi(os.Getenv("SMTP_MUTANTS")); err == nil {
		mutantsPerMessage = n
	}
	if n, err := strconv.ParseUint(os.Getenv("SMTP_MUTANT_SEED"), 10, 64); err == nil {
		mutantSeed = n * 1000
	}
	dir := t.TempDir()
	if keep := os.Getenv("SMTP_KEEP_DIR"); keep != "" {
		dir = keep // to look at the messages that differ
	}
	paths := pythonGenerated(t, filepath.Join(dir, "py"))
	paths = append(paths, writeFiles(t, dir, malformedMessages())...)
	mutDir := filepath.Join(dir, "mutants")
	if err := os.Mkdir(mutDir, 0o755); err != nil {
		t.Fatal(err)
	}
	mutants := map[string][]byte{}
	for i, p := range paths {
		content, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(content) > 100_000 {
			continue
		}
		for j, m := range mutate(content, mutantsPerMessage, uint64(i)+mutantSeed) {
			mutants[fmt.Sprintf("%s.%03d.eml", filepath.Base(p), j)] = m
		}
	}
	paths = append(paths, writeFiles(t, mutDir, mutants)...)
	if corpus := os.Getenv("SMTP_FUZZ_CORPUS"); corpus != "" {
		paths = append(paths, fuzzCorpusFiles(t, corpus, filepath.Join(dir, "fuzz"))...) // a fuzz target's finds
	}

	want := pythonMessages(t, paths)
	w := stoqtest.New[*Plugin](t, "smtp", nil)
	compared, failed := 0, 0
	for i, p := range paths {
		content, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if want[i].Error != nil {
			// Python cannot parse it at all: the worker must still answer.
			stoqtest.Scan(t, w, content)
			continue
		}
		compared++
		if diffs := compareWithPython(t, w, content, want[i]); len(diffs) > 0 {
			failed++
			if failed <= 15 {
				t.Errorf("%s:\n  %s", strings.TrimPrefix(p, dir+"/"), strings.Join(diffs, "\n  "))
			}
		}
	}
	t.Logf("%d messages compared with Python's email package, %d differ; %d bodies of damaged East Asian text decoded differently (tolerated)",
		compared, failed, tolerated.Load())
}

// fuzzCorpusFiles writes the []byte inputs of a fuzz corpus folder (of
// FuzzScan or FuzzParse) as message files into dir.
func fuzzCorpusFiles(t *testing.T, corpus, dir string) []string {
	entries, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(corpus, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 2)
		if len(lines) < 2 {
			continue
		}
		raw, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(lines[1]), "[]byte("), ")"))
		if err == nil {
			files[e.Name()+".eml"] = []byte(raw)
		}
	}
	return writeFiles(t, dir, files)
}
