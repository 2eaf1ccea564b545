package email

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

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

// testdata returns the path of a file in the module's testdata folder.
func testdata(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", name)
}

// runPython runs script with input on stdin and decodes its JSON output.
func runPython(t testing.TB, script string, input any, out any, args ...string) {
	t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python(t), append([]string{testdata(script)}, args...)...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("%s printed no JSON: %v\n%.500s", script, err, stdout)
	}
}

// pyHeader is what pyheaders.py reports for one header value.
type pyHeader struct {
	Error        string  `json:"error"`
	Value        string  `json:"value"`
	Type         string  `json:"type"`
	Filename     *string `json:"filename"`
	Boundary     *string `json:"boundary"`
	Charset      *string `json:"charset"`
	Disposition  *string `json:"disposition"`
	IsAttachment bool    `json:"is_attachment"`
	ParamError   string  `json:"param_error"`
	CTE          string  `json:"cte"`
}

type headerCase struct {
	name string
	raw  []byte
}

// pythonHeaders asks Python about every case.
func pythonHeaders(t testing.TB, cases []headerCase) []pyHeader {
	t.Helper()
	pairs := make([][2]string, len(cases))
	for i, c := range cases {
		pairs[i] = [2]string{c.name, base64.StdEncoding.EncodeToString(c.raw)}
	}
	var out []pyHeader
	runPython(t, "pyheaders.py", pairs, &out)
	if len(out) != len(cases) {
		t.Fatalf("pyheaders.py answered %d cases of %d", len(out), len(cases))
	}
	return out
}

func optional(s string, ok bool) *string {
	if !ok {
		return nil
	}
	return &s
}

func strOrNil(p *string) string {
	if p == nil {
		return "<None>"
	}
	return *p
}
