package yara

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// writeRules writes rules text to a file in a fresh temp folder.
func writeRules(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.yar")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newPlugin builds the plugin as the engine would with opts on the command
// line; empty dispatch/worker rules unless opts set them.
func newPlugin(t testing.TB, opts map[string]string) *Plugin {
	t.Helper()
	full := map[string]string{"worker_rules": "", "dispatch_rules": ""}
	for k, v := range opts {
		full[k] = v
	}
	return stoqtest.New[*Plugin](t, "yara", full)
}

// minimalPE returns the headers of a PE executable: an MZ header whose
// e_lfanew points at a PE signature, an AMD64 COFF header and the magic of
// a PE32+ optional header, with the usual DOS stub text, padded to 512
// bytes. It is what the PE rules look at.
func minimalPE() []byte {
	pe := make([]byte, 512)
	copy(pe, "MZ")
	binary.LittleEndian.PutUint16(pe[2:], 0x90)
	copy(pe[0x4E:], "This program cannot be run in DOS mode.\r\r\n$")
	binary.LittleEndian.PutUint32(pe[0x3C:], 0x80)
	copy(pe[0x80:], "PE\x00\x00")
	binary.LittleEndian.PutUint16(pe[0x84:], 0x8664)
	binary.LittleEndian.PutUint16(pe[0x98:], 0x20b)
	return pe
}

const typedRules = `rule typed : tag_one tag_two
{
    meta:
        description = "typed meta"
        score = 42
        negative = -7
        enabled = true
        disabled = false
    strings:
        $text = "hello stoq"
        $bin = { 00 FF 5C 41 }
    condition:
        any of them
}

rule never
{
    condition:
        false
}
`

func TestScanReportsMatchesInStoQShape(t *testing.T) {
	p := newPlugin(t, map[string]string{"worker_rules": writeRules(t, typedRules)})
	content := []byte("xx hello stoq yy \x00\xff\\A zz hello stoq")
	resp := stoqtest.Scan(t, p, content)

	res, ok := resp.Results.(Results)
	if !ok {
		t.Fatalf("results are a %T, want Results", resp.Results)
	}
	if len(res.Matches) != 1 {
		t.Fatalf("got %d matches, want 1: %+v", len(res.Matches), res.Matches)
	}
	m := res.Matches[0]
	wantMeta := map[string]any{"description": "typed meta", "score": 42, "negative": -7, "enabled": true, "disabled": false}
	if !reflect.DeepEqual(m.Meta, wantMeta) {
		t.Errorf("meta = %#v, want %#v (types kept)", m.Meta, wantMeta)
	}
	wantStrings := []StringMatch{
		{3, "$text", []byte("hello stoq")},
		{25, "$text", []byte("hello stoq")},
		{17, "$bin", []byte("\x00\xff\\A")},
	}
	if !reflect.DeepEqual(m.Strings, wantStrings) {
		t.Errorf("strings = %+v, want %+v", m.Strings, wantStrings)
	}

	got := stoqtest.JSON(t, resp.Results)
	want := map[string]any{"matches": []any{map[string]any{
		"tags":      []any{"tag_one", "tag_two"},
		"namespace": "default",
		"rule":      "typed",
		"meta":      map[string]any{"description": "typed meta", "score": 42.0, "negative": -7.0, "enabled": true, "disabled": false},
		"strings": []any{
			[]any{3.0, "$text", "hello stoq"},
			[]any{25.0, "$text", "hello stoq"},
			[]any{17.0, "$bin", `\x00\xff\\A`},
		},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON =\n%#v\nwant\n%#v", got, want)
	}
}

func TestScanWithoutMatchesHasEmptyListsNotNull(t *testing.T) {
	p := newPlugin(t, map[string]string{"worker_rules": writeRules(t, typedRules)})
	b, err := json.Marshal(stoqtest.Scan(t, p, []byte("nothing here")).Results)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"matches":[]}` {
		t.Errorf("got %s", b)
	}

	p = newPlugin(t, map[string]string{"worker_rules": writeRules(t, "rule bare { condition: true }")})
	b, err = json.Marshal(stoqtest.Scan(t, p, nil).Results)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"matches":[{"tags":[],"namespace":"default","rule":"bare","meta":{},"strings":[]}]}`; string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestStringMatchJSONRoundTrip(t *testing.T) {
	in := Results{Matches: []Match{{
		Tags: []string{}, Namespace: "default", Rule: "r", Meta: map[string]any{},
		Strings: []StringMatch{{Offset: 1 << 40, Identifier: "$a", Data: []byte("C:\\x\x00\xffé\u200b")}},
	}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Results
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Matches[0].Strings, in.Matches[0].Strings) {
		t.Errorf("round trip through %s gave %+v", b, out.Matches[0].Strings)
	}
	for _, bad := range []string{`[1,"$a"]`, `["x","$a","d"]`, `[1,2,"d"]`, `[1,"$a",3]`, `[1,"$a","\\q"]`, `{}`} {
		var s StringMatch
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

func TestStringsLimit(t *testing.T) {
	rules := writeRules(t, `rule many { strings: $a = "ab" $b = "cd" condition: any of them }`)
	content := []byte("ab ab ab cd cd")
	for _, tc := range []struct {
		limit string
		want  int
	}{{"", 5}, {"0", 0}, {"2", 2}, {"4", 4}, {"100", 5}} {
		p := newPlugin(t, map[string]string{"worker_rules": rules, "strings_limit": tc.limit})
		m := stoqtest.Scan(t, p, content).Results.(Results).Matches
		if len(m) != 1 || len(m[0].Strings) != tc.want {
			t.Errorf("strings_limit %q: got %+v, want %d strings", tc.limit, m, tc.want)
		}
		if tc.want == 4 && (m[0].Strings[3].Identifier != "$b" || m[0].Strings[3].Offset != 9) {
			t.Errorf("strings_limit 4 kept %+v, want the first strings in rule order", m[0].Strings)
		}
	}
}

func TestBadOptionsAreConstructorErrors(t *testing.T) {
	for _, tc := range []struct {
		option, value, want string
	}{
		{"strings_limit", "-1", "0 or more"},
		{"strings_limit", "many", "want an integer"},
		{"xor_first_match", "maybe", "want a boolean"},
	} {
		_, err := stoqtest.TryNew(t, "yara", map[string]string{tc.option: tc.value})
		var oe *core.OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: got %v, want an OptionError saying %q", tc.option, tc.value, err, tc.want)
		}
	}
}

func TestMissingRulesFileNamesIt(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yar")
	for _, option := range []string{"worker_rules", "dispatch_rules"} {
		_, err := stoqtest.TryNew(t, "yara", map[string]string{option: missing})
		if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), option) {
			t.Errorf("%s: got %v, want an error naming %s and the option", option, err, missing)
		}
	}
	// a relative path that is not one of the shipped files gets no fallback
	_, err := stoqtest.TryNew(t, "yara", map[string]string{"worker_rules": "rules/other.yar"})
	if err == nil || !strings.Contains(err.Error(), "rules/other.yar") {
		t.Errorf("got %v, want an error naming rules/other.yar", err)
	}
	_, err = stoqtest.TryNew(t, "yara", map[string]string{"worker_rules": t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("got %v, want an error about a directory", err)
	}
}

func TestInvalidRulesNameFileAndLine(t *testing.T) {
	path := writeRules(t, "rule fine { condition: true }\n\nrule broken { strings: $a = \"xyz1\" condition: $a and $nope }\n")
	_, err := stoqtest.TryNew(t, "yara", map[string]string{"worker_rules": path})
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v (%T), want a *CompileError", err, err)
	}
	if msg := err.Error(); !strings.Contains(msg, path+":3: ") || !strings.Contains(msg, "$nope") || !strings.Contains(msg, "worker_rules") {
		t.Errorf("message %q should name the option, %s:3 and the undefined string", msg, path)
	}

	// an error in an included file names that file
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.yar")
	if err := os.WriteFile(inc, []byte("rule a {\n condition: true\n}\nrule b { condition: nonsense( }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(dir, "top.yar")
	if err := os.WriteFile(top, []byte("include \"inc.yar\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = stoqtest.TryNew(t, "yara", map[string]string{"dispatch_rules": top})
	if err == nil || !strings.Contains(err.Error(), "inc.yar:4: ") {
		t.Errorf("got %v, want the included file and its line 4", err)
	}
}

func TestDefaultRulesComeFromThePluginFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules", "stoq.yar"), []byte(`rule folder_rule { condition: true }`), 0o600); err != nil {
		t.Fatal(err)
	}
	info, _ := engine.Lookup("yara")
	cfg := core.NewConfig("yara", dir, core.ConfigLayer{Source: "manifest", Values: info.Manifest.Options})
	p, err := New(cfg, stoqtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if want := filepath.Join(dir, "rules", "stoq.yar"); p.worker.source != want {
		t.Errorf("worker rules from %s, want %s", p.worker.source, want)
	}
	// the folder has no rules/dispatcher.yar: the shipped copy is used
	if p.dispatch.source != "embedded rules/dispatcher.yar" {
		t.Errorf("dispatch rules from %s, want the embedded copy", p.dispatch.source)
	}
	m := stoqtest.Scan(t, p, []byte("x")).Results.(Results).Matches
	if len(m) != 1 || m[0].Rule != "folder_rule" {
		t.Errorf("got %+v, want the folder's rule", m)
	}
}

func TestDefaultRulesWorkWithoutAPluginFolder(t *testing.T) {
	t.Chdir(t.TempDir()) // no rules/ folder in the working directory either
	p := stoqtest.New[*Plugin](t, "yara", nil)
	if p.worker.source != "embedded rules/stoq.yar" || p.dispatch.source != "embedded rules/dispatcher.yar" {
		t.Fatalf("rules from %s and %s, want the embedded copies", p.worker.source, p.dispatch.source)
	}
	m := stoqtest.Scan(t, p, minimalPE()).Results.(Results).Matches
	if len(m) == 0 || m[0].Rule != "PE_File" {
		t.Errorf("got %+v, want PE_File first", m)
	}
	d, err := p.GetDispatches(context.Background(), stoqtest.Payload(minimalPE(), nil), nil)
	if err != nil || !reflect.DeepEqual(d.PluginNames, []string{"pecarve"}) {
		t.Errorf("dispatches %+v, %v; want pecarve", d, err)
	}
}

// TestShippedRules checks that the default rule sets say what they claim on
// small samples of each file type.
func TestShippedRules(t *testing.T) {
	p := stoqtest.New[*Plugin](t, "yara", map[string]string{"worker_rules": "rules/stoq.yar"})
	elf := append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 64)...)
	machoFat := []byte("\xca\xfe\xba\xbe\x00\x00\x00\x02rest")
	javaClass := []byte("\xca\xfe\xba\xbe\x00\x00\x00\x34rest")
	ole := append([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), make([]byte, 64)...)
	embedded := append(append(bytes.Repeat([]byte("A"), 1001), minimalPE()...), "tail"...)
	for _, tc := range []struct {
		name    string
		content []byte
		want    []string
	}{
		{"pe", minimalPE(), []string{"PE_File"}},
		{"embedded pe", embedded, []string{"Embedded_PE"}},
		{"elf", elf, []string{"ELF_File"}},
		{"mach-o fat", machoFat, []string{"MachO_File"}},
		{"java", javaClass, []string{"Java_Class"}},
		{"ole", ole, []string{"OLE_Compound_File"}},
		{"pdf", []byte("junk\n%PDF-1.4\n1 0 obj"), []string{"PDF_Document"}},
		{"rtf", []byte(`{\rtf1\ansi hello}`), []string{"RTF_Document"}},
		{"zip", []byte("PK\x03\x04\x14\x00rest"), []string{"ZIP_Archive"}},
		{"docx", []byte("PK\x03\x04\x14\x00 [Content_Types].xml word/document.xml"), []string{"ZIP_Archive", "Office_Open_XML"}},
		{"gzip", []byte("\x1f\x8b\x08\x00rest"), []string{"Compressed_Archive"}},
		{"png", []byte("\x89PNG\r\n\x1a\n rest"), []string{"Image_File"}},
		{"url", []byte("get https://evil.example.org/x/payload.exe now"), []string{"URL"}},
		{"powershell", []byte(`powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA`), []string{"PowerShell_Download_Cradle"}},
		{"injection", []byte("VirtualAllocEx WriteProcessMemory CreateRemoteThread"), []string{"Process_Injection_API"}},
		{"shadow copies", []byte("cmd /c vssadmin.exe delete shadows /all /quiet"), []string{"Shadow_Copy_Deletion"}},
		{"private key", []byte("-----BEGIN OPENSSH PRIVATE KEY-----"), []string{"Private_Key"}},
		{"php", []byte("<?php eval(base64_decode($x)); ?>"), []string{"Script_Obfuscation"}},
		{"text", []byte("just some harmless text"), nil},
	} {
		var got []string
		for _, m := range stoqtest.Scan(t, p, tc.content).Results.(Results).Matches {
			got = append(got, m.Rule)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: matched %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestScanWithoutWorkerRulesFails(t *testing.T) {
	p := newPlugin(t, nil)
	pl := stoqtest.Payload([]byte("x"), nil)
	if _, err := p.Scan(context.Background(), pl, stoqtest.Request(pl)); err == nil || !strings.Contains(err.Error(), "worker_rules") {
		t.Errorf("got %v, want an error about worker_rules", err)
	}
	d, err := p.GetDispatches(context.Background(), pl, stoqtest.Request(pl))
	if err != nil || len(d.PluginNames) != 0 {
		t.Errorf("without dispatch_rules: %+v, %v; want nothing", d, err)
	}
}

func TestScanTimeoutIsAnError(t *testing.T) {
	// a condition whose loops run for minutes on 64 KiB
	slow := `rule slow { condition: for all i in (0..filesize) : ( for all j in (0..filesize) : ( uint8(j) != 0x100 ) ) }`
	p := newPlugin(t, map[string]string{"worker_rules": writeRules(t, slow)})
	pl := stoqtest.Payload(make([]byte, 64<<10), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // the engine's deadline, from option timeout
	defer cancel()
	_, err := p.Scan(ctx, pl, stoqtest.Request(pl))
	if err == nil || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Errorf("got %v, want a scan timeout", err)
	}
	// the plugin still scans afterwards
	if _, err := p.Scan(context.Background(), stoqtest.Payload(nil, nil), nil); err != nil {
		t.Errorf("scan after a timeout: %v", err)
	}
}

func TestScanTimeoutFollowsTheDeadline(t *testing.T) {
	p := newPlugin(t, nil)
	if got := p.scanTimeout(context.Background()); got != 60*time.Second {
		t.Errorf("without a deadline: %s, want 60s", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	if got := p.scanTimeout(ctx); got != 3*time.Second {
		t.Errorf("2.5s before the deadline: %s, want 3s (whole seconds, rounded up)", got)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if got := p.scanTimeout(ctx); got != time.Second {
		t.Errorf("past the deadline: %s, want the 1s minimum", got)
	}
}

func TestCancelledContextDoesNotScan(t *testing.T) {
	p := newPlugin(t, map[string]string{"worker_rules": writeRules(t, typedRules)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Scan(ctx, stoqtest.Payload([]byte("hello stoq"), nil), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestScanAfterCloseFails(t *testing.T) {
	p := newPlugin(t, map[string]string{"worker_rules": writeRules(t, typedRules), "dispatch_rules": writeRules(t, typedRules)})
	stoqtest.Scan(t, p, []byte("hello stoq")) // leaves an idle scanner to free
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := p.Scan(context.Background(), stoqtest.Payload([]byte("hello stoq"), nil), nil); !errors.Is(err, errClosed) {
		t.Errorf("Scan after Close: %v, want errClosed", err)
	}
	if _, err := p.GetDispatches(context.Background(), stoqtest.Payload([]byte("hello stoq"), nil), nil); !errors.Is(err, errClosed) {
		t.Errorf("GetDispatches after Close: %v, want errClosed", err)
	}
}

func TestScanTimeoutErrorCode(t *testing.T) {
	if errScanTimeout.Error() != "scan timeout" {
		t.Errorf("libyara error 26 is %q, not the scan timeout", errScanTimeout.Error())
	}
}
