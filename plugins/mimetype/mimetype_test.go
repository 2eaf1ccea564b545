package mimetype

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/mimetype/v3/internal/magic"
)

// TestCorpusMatchesFile is the plugin's promise: for every file of the
// corpus the worker answers what `file --mime-type -b` answers for the same
// bytes, and the corpus is what it claims to be.
func TestCorpusMatchesFile(t *testing.T) {
	samples := corpus(t)
	paths := writeSamples(t, t.TempDir(), samples)
	fileSays := fileMimeTypes(t, nil, paths...)
	p := newPlugin(t, nil)
	for i, s := range samples {
		if fileSays[i] != s.want {
			t.Errorf("%s: file says %s; the corpus meant it to be %s", s.name, fileSays[i], s.want)
		}
		if got := mimeOf(t, p, s.data); got != fileSays[i] {
			t.Errorf("%s (%d bytes): mimetype says %s, file says %s", s.name, len(s.data), got, fileSays[i])
		}
	}
	t.Logf("%d samples compared with file", len(samples))
}

// TestBufferModeDiffersFromFile documents why the plugin does not use
// magic_buffer (what stoQ's python-magic called): on these samples its
// answer is not `file`'s. Should a libmagic release make them agree, this
// test says so and the bridge can be reconsidered.
func TestBufferModeDiffersFromFile(t *testing.T) {
	cases := []struct{ sample, buffer, file string }{
		{"gcc-pie", "application/x-sharedlib", "application/x-pie-executable"},
		{"go-linux-pie", "application/x-sharedlib", "application/x-pie-executable"},
		{"prepended.zip", "application/octet-stream", "application/zip"},
		{"empty", "application/x-empty", "inode/x-empty"},
	}
	c, err := magic.Open("", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range cases {
		data := sampleNamed(t, tc.sample)
		got, err := c.Buffer(data)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.buffer {
			t.Errorf("%s: magic_buffer says %s, this test expected %s", tc.sample, got, tc.buffer)
		}
		if got, _ := c.Identify(data); got != tc.file {
			t.Errorf("%s: Identify says %s, want file's %s", tc.sample, got, tc.file)
		}
	}
}

// TestSystemFilesMatchFile compares with `file` on real files found on the
// machine, files the corpus never made: executables, libraries,
// documentation, images and archives shipped by Debian packages, and the
// test data of Go's standard library (PE, ELF, Mach-O and XCOFF binaries,
// archives of every kind, images, fonts, certificates). A deterministic
// pick of at most 600, each no larger than 7 MiB.
func TestSystemFilesMatchFile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	goroot := goEnvGOROOT(t)
	roots := []struct {
		dir   string
		quota int
		only  string // a path element the file's path must have
	}{
		{"/usr/bin", 50, ""}, {"/usr/lib/x86_64-linux-gnu", 50, ""}, {"/usr/share/doc", 50, ""},
		{"/usr/share/icons", 20, ""}, {"/usr/share/mime", 20, ""}, {"/usr/share/perl5", 20, ""},
		{"/usr/share/zoneinfo", 10, ""}, {"/etc", 30, ""},
	}
	if goroot != "" {
		roots = append(roots, struct {
			dir   string
			quota int
			only  string
		}{filepath.Join(goroot, "src"), 350, "testdata"})
	}
	var paths []string
	for _, root := range roots {
		var found []string
		_ = filepath.WalkDir(root.dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if root.only != "" && !slices.Contains(strings.Split(path, string(filepath.Separator)), root.only) {
				return nil
			}
			if info, err := d.Info(); err == nil && info.Size() <= magic.DefaultLimit && info.Mode().Perm()&0o444 == 0o444 {
				found = append(found, path)
			}
			return nil
		})
		slices.Sort(found)
		step := max(1, len(found)/root.quota)
		for i := 0; i < len(found); i += step {
			paths = append(paths, found[i])
		}
	}
	if len(paths) == 0 {
		t.Skip("no readable system files")
	}
	fileSays := fileMimeTypes(t, nil, paths...)
	p := newPlugin(t, nil)
	kinds := map[string]int{}
	recompared := 0
	for i, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		got := mimeOf(t, p, data)
		want := fileSays[i]
		if got != want {
			// `file` reads the file's mode: to it, an executable ELF shared
			// object whose PIE flag it cannot read is a PIE; a payload has no
			// mode. Compare with a copy saved as a sample would be (0644).
			copyPath := filepath.Join(t.TempDir(), "copy")
			if err := os.WriteFile(copyPath, data, 0o644); err == nil {
				want = fileMimeTypes(t, nil, copyPath)[0]
				recompared++
			}
		}
		if got != want {
			t.Errorf("%s (%d bytes): mimetype says %s, file says %s", path, len(data), got, want)
		}
		kinds[want]++
	}
	t.Logf("%d system files compared with file (%d again as a 0644 copy), %d MIME types: %v", len(paths), recompared, len(kinds), kinds)
}

// goEnvGOROOT is `go env GOROOT`, or "" when there is no go command.
func goEnvGOROOT(t testing.TB) string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Logf("go env GOROOT: %v: Go's test data left out", err)
		return ""
	}
	return strings.TrimSpace(string(out))
}

// TestLargerThanReadBytes compares with `file -P bytes=N` for a read_bytes
// smaller than the samples: up to twice read_bytes every byte `file` reads
// is in libmagic's in-memory file, so the answers agree whatever the type.
func TestLargerThanReadBytes(t *testing.T) {
	const readBytes = 4096
	var samples []sample
	for _, s := range corpus(t) {
		if len(s.data) > readBytes && len(s.data) <= 2*readBytes {
			samples = append(samples, s)
		}
	}
	// Text longer than read_bytes, zips with their directory at the end.
	samples = append(samples,
		sample{name: "long.txt", data: lorem(2*readBytes, 30)},
		sample{name: "prepended-long.zip", data: append(randomBytes(readBytes, 31), sampleNamed(t, "archive.zip")...)},
	)
	paths := writeSamples(t, t.TempDir(), samples)
	fileSays := fileMimeTypes(t, []string{"-P", "bytes=" + strconv.Itoa(readBytes)}, paths...)
	p := newPlugin(t, map[string]string{"read_bytes": strconv.Itoa(readBytes)})
	for i, s := range samples {
		if got := mimeOf(t, p, s.data); got != fileSays[i] {
			t.Errorf("%s (%d bytes): mimetype says %s, file -P bytes=%d says %s", s.name, len(s.data), got, readBytes, fileSays[i])
		}
	}
}

// TestReadBytesLimitsWhatIsExamined: with read_bytes = 1000 (what stoQ's
// plugin read), a PNG signature after the first 1000 bytes of text is not
// seen, and a PNG cut at 1000 bytes is still a PNG.
func TestReadBytesLimitsWhatIsExamined(t *testing.T) {
	p := newPlugin(t, map[string]string{"read_bytes": "1000"})
	text := append(lorem(5000, 40), sampleNamed(t, "image.png")...)
	if got := mimeOf(t, p, text); got != "text/plain" {
		t.Errorf("text then PNG = %s, want text/plain", got)
	}
	pngData := sampleNamed(t, "image.png")
	big := append(bytes.Clone(pngData), lorem(10000, 41)...)
	if got := mimeOf(t, p, big); got != "image/png" {
		t.Errorf("PNG with 10 kB appended = %s, want image/png", got)
	}
}

func TestResultsShape(t *testing.T) {
	p := newPlugin(t, nil)
	resp := stoqtest.Scan(t, p, []byte("This is a magical string"))
	got := stoqtest.JSON(t, resp.Results)
	want := map[string]any{"mimetype": "text/plain"} // stoQ's own test
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results = %v, want %v", got, want)
	}
	if len(resp.Errors) != 0 || len(resp.Extracted) != 0 || len(resp.DispatchTo) != 0 {
		t.Errorf("response has more than results: %+v", resp)
	}
}

// TestDefaultDispatchMap checks the default table against what libmagic
// really answers: each corpus sample goes to the plugins meant for it.
func TestDefaultDispatchMap(t *testing.T) {
	p := newPlugin(t, nil)
	cases := map[string][]string{
		"archive.zip":           {"decompress"},
		"prepended.zip":         {"decompress"},
		"document.docx":         {"decompress"},
		"archive.7z":            {"decompress"},
		"archive.tar":           {"decompress"},
		"archive-posix.tar":     {"decompress"},
		"big.txt.gz":            {"decompress"},
		"big.txt.bz2":           {"decompress"},
		"big.txt.xz":            {"decompress"},
		"big.txt.lzma":          {"decompress"},
		"big.txt.zst":           {"decompress"},
		"big.txt.lz4":           {"decompress"},
		"archive.cab":           {"decompress"},
		"go-windows-amd64.exe":  {"peinfo", "pecarve"},
		"go-windows-386.exe":    {"peinfo", "pecarve"},
		"dos.exe":               {"peinfo"},
		"plain.eml":             {"smtp"},
		"multipart.eml":         {"smtp"},
		"word.doc":              {"ole"},
		"word-nosummary.doc":    {"ole"},
		"sheet.xls":             {"ole"},
		"slides.ppt":            {"ole"},
		"mail.msg":              {"ole"},
		"installer.msi":         {"ole"},
		"installer-noclsid.msi": {"ole"},
		"storage.ole":           {"ole"},
		"gsf-word.doc":          {"ole"},
		"gsf-book.xls":          {"ole"},
		"gsf-generic.ole":       {"ole"},
		"msibuild.msi":          {"ole"},
		"document.pdf":          {"pecarve"},
		"random.bin":            {"pecarve"},
		"plain.txt":             nil,
		"image.png":             nil,
		"gcc-pie":               nil,
		"empty":                 nil,
	}
	for name, want := range cases {
		data := sampleNamed(t, name)
		payload := stoqtest.Payload(data, nil)
		resp, err := p.GetDispatches(context.Background(), payload, stoqtest.Request(payload))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(resp.PluginNames, want) {
			t.Errorf("%s (%v): dispatched to %v, want %v", name, resp.Meta["mimetype"], resp.PluginNames, want)
		}
	}
	// Every rule of the default table must be reachable: its glob matches a
	// MIME type this libmagic can answer (from the corpus, or one the
	// corpus cannot make without tools Debian lacks, checked by name).
	answered := map[string]bool{"application/x-rar": true, "application/java-archive": true, "application/cdfv2": true, "application/vnd.ms-office": true}
	for _, s := range corpus(t) {
		answered[strings.ToLower(mimeOf(t, p, s.data))] = true
	}
	for _, r := range p.routes {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(answered)), func(mt string) bool { return globMatch(r.pattern, mt) }) {
			t.Errorf("default rule %s = %v matches nothing libmagic answered", r.pattern, r.plugins)
		}
	}
}

func TestDispatchMeta(t *testing.T) {
	p := newPlugin(t, map[string]string{"dispatch_map": "application/* = a\napplication/zip = b, a\n*/*zip* = c\ntext/* = d"})
	payload := stoqtest.Payload(sampleNamed(t, "archive.zip"), nil)
	resp, err := p.GetDispatches(context.Background(), payload, stoqtest.Request(payload))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(resp.PluginNames, want) {
		t.Errorf("plugins = %v, want %v", resp.PluginNames, want)
	}
	got := stoqtest.JSON(t, resp.Meta)
	want := map[string]any{
		"mimetype": "application/zip",
		"patterns": map[string]any{"a": "application/*", "b": "application/zip", "c": "*/*zip*"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("meta = %v, want %v", got, want)
	}
	// Nothing matches: no plugins, the meta still names the type.
	payload = stoqtest.Payload(sampleNamed(t, "image.gif"), nil)
	resp, err = p.GetDispatches(context.Background(), payload, stoqtest.Request(payload))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.PluginNames) != 0 || resp.Meta["mimetype"] != "image/gif" {
		t.Errorf("unmatched: plugins %v, meta %v", resp.PluginNames, resp.Meta)
	}
	if got := stoqtest.JSON(t, resp.Meta); !reflect.DeepEqual(got, map[string]any{"mimetype": "image/gif", "patterns": map[string]any{}}) {
		t.Errorf("unmatched meta = %v", got)
	}
}

// TestWorkerReusesTheDispatchersAnswer: on a payload the dispatcher has
// seen (its meta filed in payload.DispatchMeta, as the engine does), the
// worker answers without asking libmagic again; on another payload with the
// same content it asks.
func TestWorkerReusesTheDispatchersAnswer(t *testing.T) {
	p := newPlugin(t, nil)
	ctx := context.Background()
	payload := stoqtest.Payload(sampleNamed(t, "archive.zip"), nil)
	dispatched, err := p.GetDispatches(ctx, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload.DispatchMeta["mimetype"] = dispatched.Meta
	before := p.pool.Calls()
	resp, err := p.Scan(ctx, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Results.(Results)["mimetype"]; got != "application/zip" {
		t.Errorf("worker says %s", got)
	}
	if n := p.pool.Calls() - before; n != 0 {
		t.Errorf("worker asked libmagic %d times after the dispatcher answered", n)
	}
	other := stoqtest.Payload(payload.Content, nil)
	if _, err := p.Scan(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	if n := p.pool.Calls() - before; n != 1 {
		t.Errorf("another payload: libmagic asked %d times, want 1", n)
	}
}

// TestDispatchMapFromStoqCfg reads the table as a user writes it in
// stoq.cfg: a multi-line value with comments, overriding the manifest's.
func TestDispatchMapFromStoqCfg(t *testing.T) {
	cfgText := `[mimetype]
dispatch_map =
    # archives
    application/zip = decompress
    application/vnd.microsoft.portable-executable: peinfo hash
    message/* = smtp ; text/* = iocextract
`
	ini, err := engine.ParseINI([]byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := engine.Lookup("mimetype")
	cfg := core.NewConfig("mimetype", "",
		core.ConfigLayer{Source: "embedded manifest", Values: info.Manifest.Options},
		core.ConfigLayer{Source: "stoq.cfg", Values: ini["mimetype"]})
	p, err := New(cfg, stoqtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var got []string
	for _, r := range p.routes {
		got = append(got, r.pattern+"="+strings.Join(r.plugins, ","))
	}
	want := []string{"application/zip=decompress", "application/vnd.microsoft.portable-executable=peinfo,hash", "message/*=smtp", "text/*=iocextract"}
	if !slices.Equal(got, want) {
		t.Errorf("rules = %v, want %v", got, want)
	}
}

// A dispatch_map written in stoq.cfg reads as configparser reads it: blank
// and comment lines between its indented rules keep them in the value,
// while a rule that is not indented ends it and becomes an option of its
// own, which the constructor refuses instead of silently losing it.
func TestDispatchMapLinesInStoqCfg(t *testing.T) {
	load := func(text string) (*Plugin, error) {
		ini, err := engine.ParseINI([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		cfg := core.NewConfig("mimetype", "", core.ConfigLayer{Source: "stoq.cfg", Values: ini["mimetype"]})
		return New(cfg, stoqtest.Logger(t))
	}
	p, err := load("[mimetype]\ndispatch_map =\n    application/zip = decompress\n\n    # mail\n    message/rfc822 = smtp\n")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got, _ := p.routes.route("message/rfc822"); !slices.Equal(got, []string{"smtp"}) {
		t.Errorf("message/rfc822 goes to %v, want the rule after the blank line: smtp", got)
	}
	_, err = load("[mimetype]\ndispatch_map =\n    application/zip = decompress\nmessage/rfc822 = smtp\n")
	var oe *core.OptionError
	if !errors.As(err, &oe) || oe.Option != "message/rfc822" || !strings.Contains(err.Error(), "not indented") {
		t.Fatalf("err = %v, want an OptionError about the rule that is not indented", err)
	}
}

func TestBadOptions(t *testing.T) {
	cases := []struct {
		opts   map[string]string
		option string
		says   string
	}{
		{map[string]string{"read_bytes": "0"}, "read_bytes", "1 or more"},
		{map[string]string{"read_bytes": "-5"}, "read_bytes", "1 or more"},
		{map[string]string{"read_bytes": "lots"}, "read_bytes", "integer"},
		{map[string]string{"dispatch_map": "application/zip"}, "dispatch_map", "GLOB = PLUGIN"},
		{map[string]string{"dispatch_map": "application/zip = "}, "dispatch_map", "no plugin"},
		{map[string]string{"dispatch_map": " = decompress"}, "dispatch_map", "no MIME type glob"},
		{map[string]string{"dispatch_map": "application/zip = Decompress!"}, "dispatch_map", "not a plugin name"},
		{map[string]string{"dispatch_map": "application/zip = ok\nbad rule"}, "dispatch_map", "line 2"},
		{map[string]string{"magic_file": "/nonexistent/magic.mgc"}, "magic_file", "/nonexistent/magic.mgc"},
	}
	for _, tc := range cases {
		_, err := stoqtest.TryNew(t, "mimetype", tc.opts)
		var oe *core.OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%v: err = %v, want an OptionError for %s saying %q", tc.opts, err, tc.option, tc.says)
		}
	}
}

// TestMagicFileOption loads a database of its own (compiled from a magic
// source by libmagic itself): only its rule is known.
func TestMagicFileOption(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "stoq.magic")
	if err := os.WriteFile(src, []byte("0\tstring\tSTOQ\\x00\tstoq test format\n!:mime\tapplication/x-stoq-test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newPlugin(t, map[string]string{"magic_file": src})
	if got := mimeOf(t, p, []byte("STOQ\x00rest of the file")); got != "application/x-stoq-test" {
		t.Errorf("own format = %s, want application/x-stoq-test", got)
	}
	// A relative path is resolved against the plugin's folder.
	info, _ := engine.Lookup("mimetype")
	cfg := core.NewConfig("mimetype", dir,
		core.ConfigLayer{Source: "embedded manifest", Values: info.Manifest.Options},
		core.ConfigLayer{Source: "test", Values: map[string]string{"magic_file": "stoq.magic"}})
	p2, err := New(cfg, stoqtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if got := mimeOf(t, p2, []byte("STOQ\x00")); got != "application/x-stoq-test" {
		t.Errorf("relative magic_file: %s", got)
	}
}

func TestCancelledContext(t *testing.T) {
	p := newPlugin(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	payload := stoqtest.Payload([]byte("hello"), nil)
	if _, err := p.Scan(ctx, payload, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Scan err = %v, want context.Canceled", err)
	}
	if _, err := p.GetDispatches(ctx, payload, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("GetDispatches err = %v, want context.Canceled", err)
	}
}

// TestConcurrentScans runs the corpus from many goroutines at once (run
// with -race): every answer is the one a lone scan gives, whatever cookie
// served it.
func TestConcurrentScans(t *testing.T) {
	samples := corpus(t)
	p := newPlugin(t, nil)
	want := make([]string, len(samples))
	for i, s := range samples {
		want[i] = mimeOf(t, p, s.data)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 16*len(samples))
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range samples {
				i := (k + g*7) % len(samples)
				payload := stoqtest.Payload(samples[i].data, nil)
				resp, err := p.Scan(context.Background(), payload, nil)
				if err != nil {
					errs <- err.Error()
					continue
				}
				if got := resp.Results.(Results)["mimetype"]; got != want[i] {
					errs <- samples[i].name + ": " + got + " != " + want[i]
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestCloseThenScan(t *testing.T) {
	p, err := stoqtest.TryNew(t, "mimetype", nil)
	if err != nil {
		t.Fatal(err)
	}
	pl := p.(*Plugin)
	if err := pl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Scan(context.Background(), stoqtest.Payload([]byte("x"), nil), nil); !errors.Is(err, magic.ErrClosed) {
		t.Errorf("Scan after Close: %v, want ErrClosed", err)
	}
	if err := pl.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestManifestIsStoQs(t *testing.T) {
	info, ok := engine.Lookup("mimetype")
	if !ok {
		t.Fatal("mimetype is not registered")
	}
	if got := info.Classes; !got.Has(engine.ClassWorker | engine.ClassDispatcher) {
		t.Errorf("classes = %v, want Worker and Dispatcher", got)
	}
	for _, opt := range []string{"read_bytes", "magic_file", "dispatch_map", "min_stoq_version"} {
		if _, ok := info.Manifest.Options[opt]; !ok {
			t.Errorf("manifest has no option %s", opt)
		}
	}
	if got := info.Manifest.Options["read_bytes"]; got != strconv.Itoa(magic.DefaultLimit) {
		t.Errorf("read_bytes default = %s, want %d (file's)", got, magic.DefaultLimit)
	}
}
