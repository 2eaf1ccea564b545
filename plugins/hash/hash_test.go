package hash

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// coreutilsDigest runs ALGOsum on path and returns the hex digest it prints.
func coreutilsDigest(t *testing.T, algo, path string) string {
	t.Helper()
	tool := algo + "sum"
	bin := stoqtest.Command(t, tool, "coreutils")
	out, err := exec.Command(bin, "--", path).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", tool, path, err)
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 {
		t.Fatalf("%s %s printed nothing", tool, path)
	}
	return fields[0]
}

func TestDigestsMatchCoreutils(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"empty":              {},
		"one-byte":           {0x61},
		"4KiB-random":        randomBytes(4096, 1),
		"chunk-boundary":     randomBytes(chunkSize, 2),
		"three-chunks-and-1": randomBytes(3*chunkSize+1, 3),
		"1MiB-and-7-random":  randomBytes(1<<20+7, 4),
	}
	paths := map[string]string{}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	// Real files: Go's own PE test executables.
	goroot := strings.TrimSpace(runGo(t, "env", "GOROOT"))
	for _, name := range []string{"gcc-amd64-mingw-exec", "gcc-386-mingw-exec"} {
		p := filepath.Join(goroot, "src", "debug", "pe", "testdata", name)
		if _, err := os.Stat(p); err == nil {
			paths[name] = p
		}
	}

	w := stoqtest.New[*Plugin](t, "hash", map[string]string{"algorithms": "md5,sha1,sha256,sha512"})
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := stoqtest.Scan(t, w, content).Results.(map[string]string)
			if len(got) != 4 {
				t.Fatalf("got %d digests %v, want 4", len(got), got)
			}
			for _, algo := range []string{"md5", "sha1", "sha256", "sha512"} {
				if want := coreutilsDigest(t, algo, path); got[algo] != want {
					t.Errorf("%s: got %s, %ssum says %s", algo, got[algo], algo, want)
				}
			}
		})
	}
}

func runGo(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Skipf("go %v: %v", args, err)
	}
	return string(out)
}

// The default results are stoQ's: md5, sha1 and sha256, in lowercase hex.
func TestDefaultResults(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "hash", nil)
	got := stoqtest.JSON(t, stoqtest.Scan(t, w, []byte("abc")).Results)
	want := map[string]any{
		"md5":    "900150983cd24fb0d6963f7d28e17f72",
		"sha1":   "a9993e364706816aba3e25717850c26c9cd0d89d",
		"sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	}
	if !equalJSON(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func equalJSON(got any, want map[string]any) bool {
	m, ok := got.(map[string]any)
	if !ok || len(m) != len(want) {
		return false
	}
	for k, v := range want {
		if m[k] != v {
			return false
		}
	}
	return true
}

func TestAlgorithmsOption(t *testing.T) {
	cases := []struct {
		option string
		want   []string
	}{
		{"sha256", []string{"sha256"}},
		{" SHA512 , md5,md5 ", []string{"md5", "sha512"}},
		{"md5,sha1,sha256,sha512", []string{"md5", "sha1", "sha256", "sha512"}},
	}
	for _, c := range cases {
		t.Run(c.option, func(t *testing.T) {
			w := stoqtest.New[*Plugin](t, "hash", map[string]string{"algorithms": c.option})
			got := stoqtest.Scan(t, w, nil).Results.(map[string]string)
			var keys []string
			for k := range got {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, c.want) {
				t.Errorf("algorithms=%q gave %v, want %v", c.option, keys, c.want)
			}
		})
	}
}

func TestBadAlgorithmsOption(t *testing.T) {
	cases := []struct{ option, mention string }{
		{"md5,whirlpool", `"whirlpool"`},
		{"sha-256", `"sha-256"`},
		{"", "no hash algorithm"},
		{" , ", "no hash algorithm"},
	}
	for _, c := range cases {
		t.Run(c.option, func(t *testing.T) {
			_, err := stoqtest.TryNew(t, "hash", map[string]string{"algorithms": c.option})
			if err == nil {
				t.Fatalf("algorithms=%q: no error", c.option)
			}
			var oe *core.OptionError
			if !errors.As(err, &oe) || oe.Option != "algorithms" || oe.Plugin != "hash" {
				t.Errorf("error %v is not an OptionError naming hash's algorithms", err)
			}
			if !strings.Contains(err.Error(), c.mention) || !strings.Contains(err.Error(), "sha512") {
				t.Errorf("error %q should mention %s and list the known algorithms", err, c.mention)
			}
		})
	}
}

// The digests do not depend on how the content is cut into chunks.
func TestChunkingDoesNotChangeDigests(t *testing.T) {
	content := randomBytes(3*chunkSize+12345, 5)
	want, err := digests(context.Background(), content, known, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 63, 4096, chunkSize, len(content), 10 * len(content)} {
		if got, _ := digests(context.Background(), content, known, chunk); !mapsEqual(got, want) {
			t.Errorf("chunk %d: got %v, want %v", chunk, got, want)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Scanning never modifies the payload, which other plugins share.
func TestContentUntouched(t *testing.T) {
	content := randomBytes(100_000, 6)
	orig := bytes.Clone(content)
	w := stoqtest.New[*Plugin](t, "hash", map[string]string{"algorithms": "md5,sha1,sha256,sha512"})
	stoqtest.Scan(t, w, content)
	if !bytes.Equal(content, orig) {
		t.Fatal("content was modified")
	}
}

// Through the engine, the results land under workers.hash as in stoQ.
func TestEngineScan(t *testing.T) {
	s := stoqtest.Engine(t)
	resp, err := s.Scan(context.Background(), []byte{}, nil, nil, "hash")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Errors) != 0 {
		t.Fatalf("errors: %v", resp.Errors)
	}
	got := stoqtest.JSON(t, resp.Results[0].Workers["hash"])
	want := map[string]any{
		"md5":    "d41d8cd98f00b204e9800998ecf8427e",
		"sha1":   "da39a3ee5e6b4b0d3255bfef95601890afd80709",
		"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	}
	if !equalJSON(got, want) {
		t.Errorf("workers.hash = %v, want %v", got, want)
	}
}

// A scan whose deadline has passed stops with the context's error rather
// than hashing a large payload to the end.
func TestScanStopsWhenCancelled(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "hash", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := stoqtest.Payload(make([]byte, 2*ctxCheckChunks*chunkSize), nil)
	if _, err := w.Scan(ctx, p, stoqtest.Request(p)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scan returned %v, want context.Canceled", err)
	}
	// A small payload is done before the first check.
	small := stoqtest.Payload([]byte("abc"), nil)
	if _, err := w.Scan(ctx, small, stoqtest.Request(small)); err != nil {
		t.Fatalf("small payload: %v", err)
	}
}

// TestLargePayloadsHashedInParallelGiveTheSameDigests covers the path where
// each digest has its own goroutine (payloads of parallelFrom and up).
func TestLargePayloadsHashedInParallelGiveTheSameDigests(t *testing.T) {
	content := randomBytes(parallelFrom+12345, 3)
	w := stoqtest.New[*Plugin](t, "hash", map[string]string{"algorithms": "md5,sha1,sha256,sha512"})
	got := stoqtest.Scan(t, w, content).Results.(map[string]string)
	want := map[string]string{
		"md5":    fmt.Sprintf("%x", md5.Sum(content)),
		"sha1":   fmt.Sprintf("%x", sha1.Sum(content)),
		"sha256": fmt.Sprintf("%x", sha256.Sum256(content)),
		"sha512": fmt.Sprintf("%x", sha512.Sum512(content)),
	}
	for name, sum := range want {
		if got[name] != sum {
			t.Errorf("%s = %s, want %s", name, got[name], sum)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := stoqtest.Payload(content, nil)
	if _, err := w.Scan(ctx, p, stoqtest.Request(p)); err == nil {
		t.Error("a cancelled scan of a large payload returned digests")
	}
}
