package yara

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// Rules in the spirit of stoQ's own dispatcher tests.
const dispatchTestRules = `rule tagged_dispatch : tag1 tag2
{
    meta:
        plugin = "dispatch_target"
        save = "True"
    strings:
        $a = "testtesttest"
    condition:
        any of them
}

rule save_false_rule
{
    meta:
        plugin = "save_false"
        save = "False"
    strings:
        $a = "save_false"
    condition:
        any of them
}

rule several_plugins
{
    meta:
        plugin = " Pecarve, exif ,pecarve,, "
    strings:
        $a = "several"
    condition:
        any of them
}

rule bad_plugin_meta
{
    meta:
        plugin = 5
    strings:
        $a = "badmeta"
    condition:
        any of them
}

rule boolean_save
{
    meta:
        plugin = "boolsave"
        save = false
    strings:
        $a = "boolsave"
    condition:
        any of them
}

rule xorkey_rule
{
    meta:
        plugin = "xordecode"
        save = "True"
        xor_plaintext_for_string_this_prog = "This program"
    strings:
        $this_prog = "This program" xor(0x01-0xFF)
    condition:
        any of them
}

rule xor_info_rule
{
    meta:
        plugin = "xordecode"
        xor_plaintext_for_string_this_prog = "This program"
        xor_plaintext_for_string_this_prog_2b = "This program"
    strings:
        $this_prog = "This program" xor(0x01-0xFF)
        $this_prog_2b = "Tiir qrngsal" xor(0x01-0xFF)
    condition:
        any of them
}
`

func dispatch(t *testing.T, p *Plugin, content []byte) (*core.DispatcherResponse, *core.Payload) {
	t.Helper()
	pl := stoqtest.Payload(content, nil)
	resp, err := p.GetDispatches(context.Background(), pl, stoqtest.Request(pl))
	if err != nil {
		t.Fatalf("GetDispatches: %v", err)
	}
	if resp.ShouldArchive != nil { // as the engine applies it
		pl.Results.PayloadMeta.ShouldArchive = *resp.ShouldArchive
	}
	return resp, pl
}

func TestDispatcherNamesPluginsAndPassesTheMatch(t *testing.T) {
	p := newPlugin(t, map[string]string{"dispatch_rules": writeRules(t, dispatchTestRules)})
	resp, pl := dispatch(t, p, []byte("testtesttest"))
	if !reflect.DeepEqual(resp.PluginNames, []string{"dispatch_target"}) {
		t.Fatalf("plugins %v, want [dispatch_target]", resp.PluginNames)
	}
	m, ok := resp.Meta["dispatch_target"].(Match)
	if !ok {
		t.Fatalf("meta %#v: want a Match under the plugin's name", resp.Meta)
	}
	if m.Rule != "tagged_dispatch" || !reflect.DeepEqual(m.Tags, []string{"tag1", "tag2"}) ||
		m.Meta["plugin"] != "dispatch_target" || m.Meta["save"] != "True" ||
		!reflect.DeepEqual(m.Strings, []StringMatch{{0, "$a", []byte("testtesttest")}}) {
		t.Errorf("match %+v", m)
	}
	if !pl.Results.PayloadMeta.ShouldArchive {
		t.Error("save = \"True\" cleared should_archive")
	}
}

func TestDispatcherSaveFalseClearsShouldArchive(t *testing.T) {
	p := newPlugin(t, map[string]string{"dispatch_rules": writeRules(t, dispatchTestRules)})
	for _, content := range []string{"save_false", "boolsave"} {
		resp, pl := dispatch(t, p, []byte(content))
		if len(resp.PluginNames) != 1 || pl.Results.PayloadMeta.ShouldArchive {
			t.Errorf("%s: plugins %v, should_archive %v; want one plugin and false", content, resp.PluginNames, pl.Results.PayloadMeta.ShouldArchive)
		}
	}
}

func TestDispatcherSplitsPluginNames(t *testing.T) {
	p := newPlugin(t, map[string]string{"dispatch_rules": writeRules(t, dispatchTestRules)})
	resp, _ := dispatch(t, p, []byte("several"))
	if !reflect.DeepEqual(resp.PluginNames, []string{"pecarve", "exif"}) {
		t.Errorf("plugins %v, want [pecarve exif]", resp.PluginNames)
	}
	if resp.Meta["pecarve"].(Match).Rule != "several_plugins" || resp.Meta["exif"].(Match).Rule != "several_plugins" {
		t.Errorf("meta %+v: each plugin gets the match", resp.Meta)
	}

	resp, _ = dispatch(t, p, []byte("badmeta and testtesttest"))
	if !reflect.DeepEqual(resp.PluginNames, []string{"dispatch_target"}) || len(resp.Errors) != 1 ||
		!strings.Contains(resp.Errors[0].Message, "bad_plugin_meta") {
		t.Errorf("got %+v, want dispatch_target and an error naming bad_plugin_meta", resp)
	}
}

func TestDispatcherExtractsTheFirstXORKey(t *testing.T) {
	p := newPlugin(t, map[string]string{"dispatch_rules": writeRules(t, dispatchTestRules)})
	resp, _ := dispatch(t, p, []byte("This program_A}|f5egzrgtx"))
	m := resp.Meta["xordecode"].(Match)
	if m.Meta["xorkey"] != "21" {
		t.Errorf("xorkey = %#v, want \"21\" (0x15, written as stoQ did)", m.Meta["xorkey"])
	}
	if _, ok := m.Meta["xor_info"]; ok {
		t.Error("xor_info set with xor_first_match true")
	}
}

func TestDispatcherListsXORKeys(t *testing.T) {
	p := newPlugin(t, map[string]string{"dispatch_rules": writeRules(t, dispatchTestRules), "xor_first_match": "false"})
	resp, _ := dispatch(t, p, []byte("This program_A}|f5egzrgtx Exxc1`c\x7fvbp}`p."))
	m := resp.Meta["xordecode"].(Match)
	if m.Rule != "xor_info_rule" {
		t.Fatalf("xordecode meta is from %s, want the last matching rule", m.Rule)
	}
	want := [][]any{{uint64(13), "$this_prog", `\x15`}, {uint64(26), "$this_prog_2b", `\x11\x10`}}
	if !reflect.DeepEqual(m.Meta["xor_info"], want) {
		t.Errorf("xor_info = %#v, want %#v", m.Meta["xor_info"], want)
	}
	// the multi-byte key, first-match style
	p = newPlugin(t, map[string]string{"dispatch_rules": writeRules(t, dispatchTestRules)})
	resp, _ = dispatch(t, p, []byte("Exxc1`c\x7fvbp}`p."))
	if got := resp.Meta["xordecode"].(Match).Meta["xorkey"]; got != `b'\x11\x10'` {
		t.Errorf("xorkey = %#v, want b'\\x11\\x10' as stoQ wrote it", got)
	}
}

func TestRepeatingXORKey(t *testing.T) {
	for _, tc := range []struct {
		cipher, plain string
		want          []byte
	}{
		{"\x15\x15\x15", "\x00\x00\x00", []byte{0x15}},
		{"\x01\x02\x01\x02\x01", "\x00\x00\x00\x00\x00", []byte{1, 2}},
		{"\x01\x02\x03", "\x00\x00\x00", nil}, // no repetition: no key, as stoQ
		{"\x07", "\x00", nil},                 // one byte never yields a key
		{"abc", "abc", []byte{0}},             // key 0 when nothing was XORed
	} {
		if got := repeatingXORKey([]byte(tc.cipher), []byte(tc.plain)); !bytes.Equal(got, tc.want) {
			t.Errorf("repeatingXORKey(%q, %q) = %v, want %v", tc.cipher, tc.plain, got, tc.want)
		}
	}
}

func TestShippedDispatcherRules(t *testing.T) {
	p := stoqtest.New[*Plugin](t, "yara", nil)
	doc := append(append([]byte("%PDF-1.4 pretend document\n"), minimalPE()...), "trailer"...)
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	jpeg := []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00")
	// a PE whose DOS stub text was changed still has its PE signature
	oddStub := minimalPE()
	copy(oddStub[0x4E:], "nothing to see here, move along")
	for _, tc := range []struct {
		name    string
		content []byte
		want    []string
	}{
		{"document with a PE", doc, []string{"pecarve", "exif"}},
		{"PE with another stub", append([]byte("junk"), oddStub...), []string{"pecarve"}},
		{"png", png, []string{"exif"}},
		{"jpeg", jpeg, []string{"exif"}},
		{"MZ alone", []byte("xxMZxx"), nil},
		{"text", []byte("hello"), nil},
	} {
		resp, pl := dispatch(t, p, tc.content)
		if !reflect.DeepEqual(resp.PluginNames, tc.want) {
			t.Errorf("%s: dispatched to %v, want %v", tc.name, resp.PluginNames, tc.want)
		}
		if !pl.Results.PayloadMeta.ShouldArchive {
			t.Errorf("%s: should_archive cleared", tc.name)
		}
		if m, ok := resp.Meta["pecarve"].(Match); ok && (m.Rule != "exe_file" || m.Meta["save"] != "True") {
			t.Errorf("%s: pecarve meta %+v", tc.name, m)
		}
	}
}

// carveStub is a test worker standing in for pecarve (registered under
// another name, so it cannot clash with the real plugin). It records the
// dispatch meta it is given and extracts the PE the yara match points at.
type carveStub struct {
	mu   sync.Mutex
	seen []map[string]any
}

const carveStubName = "yaratest_pecarve"

var theCarveStub = &carveStub{}

func init() {
	core.Register(carveStubName, []byte("[Core]\nName = "+carveStubName+"\n"), func(*core.Config, *slog.Logger) (*carveStub, error) {
		return theCarveStub, nil
	})
}

func (c *carveStub) Scan(_ context.Context, payload *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	meta := payload.DispatchMeta["yara"]
	c.mu.Lock()
	c.seen = append(c.seen, meta)
	c.mu.Unlock()
	m, ok := meta[carveStubName].(Match)
	if !ok {
		return nil, nil
	}
	resp := &core.WorkerResponse{Results: map[string]any{"rule": m.Rule}}
	for _, s := range m.Strings {
		off := int(s.Offset)
		if s.Identifier != "$mz" || off == 0 || off+0x40 > len(payload.Content) {
			continue
		}
		lfanew := int(binary.LittleEndian.Uint32(payload.Content[off+0x3C:]))
		if off+lfanew+4 <= len(payload.Content) && string(payload.Content[off+lfanew:off+lfanew+4]) == "PE\x00\x00" {
			end := min(off+512, len(payload.Content))
			resp.Extracted = append(resp.Extracted, core.ExtractedPayload{Content: payload.Content[off:end]})
		}
	}
	return resp, nil
}

// withStubTarget writes the shipped dispatcher rules with the exe_file rule's
// plugin renamed to the stub.
func withStubTarget(t *testing.T, save string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("rules", "dispatcher.yar"))
	if err != nil {
		t.Fatal(err)
	}
	rules := strings.Replace(string(text), `plugin = "pecarve"`, `plugin = "`+carveStubName+`"`, 1)
	rules = strings.Replace(rules, `save = "True"`, `save = "`+save+`"`, 1)
	if rules == string(text) {
		t.Fatal("rules/dispatcher.yar has no exe_file rule naming pecarve")
	}
	return writeRules(t, rules)
}

// TestEngineRoutesEmbeddedPEToPecarve runs the dispatcher in an engine, as
// `stoq scan doc -R yara` does: the exe_file rule of stoQ's documentation
// sends a document with an embedded PE to the carver, which receives the
// match as dispatch meta.
func TestEngineRoutesEmbeddedPEToPecarve(t *testing.T) {
	theCarveStub.mu.Lock()
	theCarveStub.seen = nil
	theCarveStub.mu.Unlock()
	s := stoqtest.Engine(t, engine.WithDispatchers("yara"), engine.WithPluginOptions(map[string]map[string]string{
		"yara": {"dispatch_rules": withStubTarget(t, "True"), "worker_rules": ""},
	}))
	pe := minimalPE()
	doc := append(append(bytes.Repeat([]byte("document text "), 100), pe...), "more text"...)
	peOffset := uint64(14 * 100)

	resp, err := s.Scan(context.Background(), doc, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Errors) != 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	if len(resp.Results) != 2 {
		t.Fatalf("%d results, want the document and the carved PE", len(resp.Results))
	}
	root, carved := resp.Results[0], resp.Results[1]
	if !reflect.DeepEqual(root.PluginsRun.Workers, []string{carveStubName}) || !root.PayloadMeta.ShouldArchive {
		t.Errorf("document: workers %v, should_archive %v", root.PluginsRun.Workers, root.PayloadMeta.ShouldArchive)
	}
	if carved.Size != len(pe) || !reflect.DeepEqual(carved.ExtractedBy, []string{carveStubName}) ||
		!reflect.DeepEqual(carved.ExtractedFrom, []string{root.PayloadID}) {
		t.Errorf("carved payload %+v", carved)
	}
	// the carved PE is dispatched again (it matches exe_file at offset 0)
	if !reflect.DeepEqual(carved.PluginsRun.Workers, []string{carveStubName}) {
		t.Errorf("carved PE workers %v", carved.PluginsRun.Workers)
	}

	theCarveStub.mu.Lock()
	defer theCarveStub.mu.Unlock()
	if len(theCarveStub.seen) != 2 {
		t.Fatalf("stub ran %d times, want 2", len(theCarveStub.seen))
	}
	m, ok := theCarveStub.seen[0][carveStubName].(Match)
	if !ok || m.Rule != "exe_file" || m.Meta["plugin"] != carveStubName || m.Meta["save"] != "True" {
		t.Fatalf("dispatch meta %#v", theCarveStub.seen[0])
	}
	var mz, stub bool
	for _, sm := range m.Strings {
		mz = mz || (sm.Identifier == "$mz" && sm.Offset == peOffset)
		stub = stub || (sm.Identifier == "$dos_stub" && sm.Offset == peOffset+0x4E)
	}
	if !mz || !stub {
		t.Errorf("strings %+v: want $mz at %d and $dos_stub at %d", m.Strings, peOffset, peOffset+0x4E)
	}
}

func TestEngineSaveFalseIsInTheResponse(t *testing.T) {
	s := stoqtest.Engine(t, engine.WithDispatchers("yara"), engine.WithPluginOptions(map[string]map[string]string{
		"yara": {"dispatch_rules": withStubTarget(t, "False"), "worker_rules": ""},
	}))
	resp, err := s.Scan(context.Background(), append([]byte("xx"), minimalPE()...), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := stoqtest.JSON(t, resp).(map[string]any)
	first := out["results"].([]any)[0].(map[string]any)
	if archive := first["payload_meta"].(map[string]any)["should_archive"]; archive != false {
		t.Errorf("should_archive = %v, want false", archive)
	}
}
