package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/stoq-go/stoq/cli/v3/internal/testplugins"
	"github.com/stoq-go/stoq/core/v3"
)

// testBinary is stoq with the test plugins linked in, built once by
// TestMain for the tests that need a process of their own.
var testBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stoq-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testBinary = filepath.Join(dir, "stoq")
	build := exec.Command("go", "build", "-o", testBinary, "./internal/testplugins/cmd/stoq-test")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test stoq binary:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one stoq command printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// stoq runs the stoq command in this process with home as $STOQ_HOME, the
// test plugins linked in.
func stoq(t *testing.T, home string, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	env, err := NewEnv(func(k string) string {
		if k == HomeEnvVar {
			return home
		}
		return os.Getenv(k)
	}, stdin, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	code := run(context.Background(), env, args)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// mustSucceed fails the test unless r exited 0.
func (r result) mustSucceed(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit status %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	return r
}

// response decodes the single response r printed.
func (r result) response(t *testing.T) *core.StoqResponse {
	t.Helper()
	var resp core.StoqResponse
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.UseNumber()
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("stdout is not one response: %v\n%s", err, r.stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one response:\n%s", r.stdout)
	}
	return &resp
}

// lines decodes the one-line responses of run mode.
func (r result) lines(t *testing.T) []*core.StoqResponse {
	t.Helper()
	var out []*core.StoqResponse
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		if line == "" {
			continue
		}
		var resp core.StoqResponse
		if err := json.Unmarshal([]byte(line), &resp); err != nil {
			t.Fatalf("line is not a response: %v\n%q", err, line)
		}
		out = append(out, &resp)
	}
	return out
}

// writeFile creates dir/name with content and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// worker returns the results of worker name for payload i as a map.
func worker(t *testing.T, resp *core.StoqResponse, i int, name string) map[string]any {
	t.Helper()
	if i >= len(resp.Results) {
		t.Fatalf("response has %d payloads, want payload %d", len(resp.Results), i)
	}
	res, ok := resp.Results[i].Workers[name].(map[string]any)
	if !ok {
		t.Fatalf("payload %d has no %s results: %v", i, name, resp.Results[i].Workers)
	}
	return res
}
