package yara

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// The shipped dispatcher rules route real samples by content: e-mail to
// smtp, archives and compressed data to decompress, executables to pecarve.
// Samples are made in the test by the reference tools (Python's email
// package, zip, 7z, tar, gzip, bzip2, xz, zstd, gcab); each is checked
// against the yara command line too.

// needTool returns the path of a command the test needs. Without it the
// test is skipped, except under CI (CI=true), where it fails.
func needTool(t testing.TB, name string) string {
	t.Helper()
	return stoqtest.Command(t, name, name)
}

func run(t testing.TB, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(needTool(t, name), args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// emailSamples writes messages with Python's email package (Debian's
// /usr/bin/python3: the pyenv python3 on PATH is not the reference) and
// returns their paths by name.
func emailSamples(t *testing.T, dir string) map[string]string {
	t.Helper()
	python := referencePython(t)
	const script = `
import sys, os
from email.message import EmailMessage
from email import policy
out = sys.argv[1]

def write(name, msg, pol=policy.default):
    with open(os.path.join(out, name), "wb") as f:
        f.write(msg.as_bytes(policy=pol))

# Written by a mail client: From first.
m = EmailMessage()
m["From"] = "Alice Example <alice@example.org>"
m["To"] = "bob@example.net"
m["Subject"] = "Quarterly report"
m["Date"] = "Tue, 01 Dec 2026 09:00:00 +0000"
m["Message-ID"] = "<report-1@example.org>"
m.set_content("Hello Bob,\n\nthe report is attached.\n")
write("client.eml", m)

# As delivered: the MTA's fields come first.
m = EmailMessage()
m["Return-Path"] = "<alice@example.org>"
m["Delivered-To"] = "bob@example.net"
m["Received"] = "from mx.example.org (mx.example.org [192.0.2.1]) by mail.example.net with ESMTPS id 4F1; Tue, 01 Dec 2026 09:00:02 +0000"
m["Received"] = "from [10.0.0.5] by mx.example.org with ESMTPSA; Tue, 01 Dec 2026 09:00:01 +0000"
m["From"] = "alice@example.org"
m["To"] = "bob@example.net"
m["Subject"] = "=?utf-8?q?R=C3=A9sum=C3=A9?="
m.set_content("Body text.\n")
write("delivered.eml", m)

# X- fields first, CRLF line endings (as on the wire), an attachment.
m = EmailMessage()
m["X-Mozilla-Status"] = "0001"
m["X-Mozilla-Status2"] = "00000000"
m["Received"] = "from relay.example.com by mail.example.net; Tue, 01 Dec 2026 09:00:03 +0000"
m["MIME-Version"] = "1.0"
m["From"] = "carol@example.com"
m["Subject"] = "invoice"
m.set_content("See the attachment.\n")
m.add_attachment(b"PK\x03\x04 not really a zip" * 40, maintype="application", subtype="zip", filename="invoice.zip")
write("x-first-crlf.eml", m, policy.SMTP)

# Only Received and Message-ID before the body: no From at all.
m = EmailMessage()
m["Received"] = "from a by b; Tue, 01 Dec 2026 09:00:04 +0000"
m["Message-ID"] = "<bare@example.org>"
m.set_content("no originator\n")
write("received-only.eml", m)
`
	cmd := exec.Command(python, "-c", script, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", python, err, out)
	}
	paths := map[string]string{}
	for _, name := range []string{"client.eml", "delivered.eml", "x-first-crlf.eml", "received-only.eml"} {
		paths[name] = filepath.Join(dir, name)
	}
	// One message of an mbox: the "From " separator line, then the message.
	client, err := os.ReadFile(paths["client.eml"])
	if err != nil {
		t.Fatal(err)
	}
	paths["mbox"] = writeSample(t, dir, "mbox", append([]byte("From alice@example.org Tue Dec  1 09:00:00 2026\n"), client...))
	return paths
}

// referencePython is Debian's /usr/bin/python3 (the pyenv python3 on PATH
// lacks Debian's modules and is not the reference).
func referencePython(t testing.TB) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		stoqtest.Missing(t, "%s is missing (Debian's python3)", python)
	}
	return python
}

// archiveSamples makes an archive of two files with each tool and returns
// their paths by name.
func archiveSamples(t *testing.T, dir string) map[string]string {
	t.Helper()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"a.txt": strings.Repeat("alpha ", 500), "b.txt": "beta\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := func(name string) string { return filepath.Join(dir, name) }
	run(t, src, "zip", "-q", out("files.zip"), "a.txt", "b.txt")
	run(t, src, "7z", "a", "-bd", "-bso0", out("files.7z"), "a.txt", "b.txt")
	run(t, src, "tar", "-cf", out("files.tar"), "a.txt", "b.txt")
	run(t, src, "tar", "--format=posix", "-cf", out("files-posix.tar"), "a.txt", "b.txt")
	run(t, src, "tar", "-czf", out("files.tar.gz"), "a.txt", "b.txt")
	run(t, src, "gcab", "-c", out("files.cab"), "a.txt", "b.txt")
	for tool, suffix := range map[string]string{"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zstd": ".zst"} {
		run(t, src, tool, "-k", "a.txt")
		if err := os.Rename(filepath.Join(src, "a.txt"+suffix), out("a.txt"+suffix)); err != nil {
			t.Fatal(err)
		}
	}
	paths := map[string]string{}
	for _, name := range []string{"files.zip", "files.7z", "files.tar", "files-posix.tar", "files.tar.gz", "files.cab", "a.txt.gz", "a.txt.bz2", "a.txt.xz", "a.txt.zst"} {
		paths[name] = out(name)
	}
	// Empty input compressed: bzip2's end-of-stream marker right after the
	// header, an empty zip (end of central directory only).
	empty := filepath.Join(src, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, src, "bzip2", "-k", "empty")
	paths["empty.bz2"] = empty + ".bz2"
	run(t, src, referencePython(t), "-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'w').close()", out("empty.zip"))
	paths["empty.zip"] = out("empty.zip")
	return paths
}

func writeSample(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// dispatchRules returns the plugin with its shipped rules (the files in
// rules/, as the default options name them) and their absolute path.
func dispatchRules(t *testing.T) (*Plugin, string) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("rules", "dispatcher.yar"))
	if err != nil {
		t.Fatal(err)
	}
	return newPlugin(t, map[string]string{"dispatch_rules": path}), path
}

// checkRouting dispatches each sample with the shipped rules and compares
// the plugins named with want, and every matching rule and string with the
// yara command line's.
func checkRouting(t *testing.T, p *Plugin, rules string, paths map[string]string, want map[string][]string) {
	t.Helper()
	for name, path := range paths {
		content, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := dispatch(t, p, content)
		if !reflect.DeepEqual(resp.PluginNames, want[name]) {
			t.Errorf("%s: dispatched to %v, want %v", name, resp.PluginNames, want[name])
		}
		matches, err := p.dispatch.scan(context.Background(), content, -1, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		compareWithCLI(t, name, matches, runYaraCLI(t, rules, path))
	}
}

// compareWithCLI checks that the plugin's matches are the yara command
// line's: the same rules in the same order, meta, and strings.
func compareWithCLI(t *testing.T, name string, got []Match, want []cliMatch) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: plugin matched %v, yara %v", name, ruleNames(got), want)
		return
	}
	for i, g := range got {
		w := want[i]
		if g.Rule != w.rule || len(g.Meta) != len(w.meta) || len(g.Strings) != len(w.strings) {
			t.Errorf("%s: match %d is %s with %d meta and %d strings, yara says %s with %d and %d",
				name, i, g.Rule, len(g.Meta), len(g.Strings), w.rule, len(w.meta), len(w.strings))
			continue
		}
		for k, v := range g.Meta {
			if cliMetaText(v) != w.meta[k] {
				t.Errorf("%s %s: meta %s = %s, yara %s", name, g.Rule, k, cliMetaText(v), w.meta[k])
			}
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

func TestShippedRulesRouteEmailToSMTP(t *testing.T) {
	needTool(t, "yara")
	p, rules := dispatchRules(t)
	dir := t.TempDir()
	paths := emailSamples(t, dir)
	want := map[string][]string{}
	for name := range paths {
		want[name] = []string{"smtp"}
	}

	// Near misses: text that mentions header names without being mail.
	nearMisses := map[string]string{
		"text-from.txt":        "Minutes of the meeting\nFrom: Alice\nWe agreed on the budget.\n",
		"inline-fields.txt":    "The form has fields From: and To: and Subject: on one line.\n",
		"after-empty-line.txt": "Dear Bob,\n\nFrom: Alice\nTo: Bob\nSubject: forwarded\n",
		"http-response.txt":    "HTTP/1.1 200 OK\r\nDate: Tue, 01 Dec 2026 09:00:00 GMT\r\nContent-Type: text/html\r\nX-Frame-Options: DENY\r\nServer: nginx\r\n\r\n<html></html>",
		"late-headers.txt":     strings.Repeat("a long line of text without an empty line ", 200) + "\nFrom: a@example.org\nTo: b@example.org\n",
		"x-fields-only.txt":    "X-Scanned: yes\nX-Spam-Score: 0\nContent-Type: text/plain\n\nbody\n",
	}
	for name, text := range nearMisses {
		paths[name] = writeSample(t, dir, name, []byte(text))
		want[name] = nil
	}
	checkRouting(t, p, rules, paths, want)
}

func TestShippedRulesRouteArchivesToDecompress(t *testing.T) {
	needTool(t, "yara")
	p, rules := dispatchRules(t)
	dir := t.TempDir()
	paths := archiveSamples(t, dir)
	want := map[string][]string{}
	for name := range paths {
		want[name] = []string{"decompress"}
	}
	// No RAR archiver is free software: the two RAR signatures as written
	// at the start of RAR 4 and RAR 5 archives.
	paths["v4.rar"] = writeSample(t, dir, "v4.rar", []byte("Rar!\x1a\x07\x00\xcf\x90\x73\x00\x00\x0d\x00\x00\x00\x00\x00\x00\x00"))
	paths["v5.rar"] = writeSample(t, dir, "v5.rar", []byte("Rar!\x1a\x07\x01\x00\x33\x92\xb5\xe5\x0a\x01\x05\x06\x00\x05\x01\x01\x80\x80\x00"))
	want["v4.rar"], want["v5.rar"] = []string{"decompress"}, []string{"decompress"}

	zip, err := os.ReadFile(paths["files.zip"])
	if err != nil {
		t.Fatal(err)
	}
	tarball, err := os.ReadFile(paths["files.tar"])
	if err != nil {
		t.Fatal(err)
	}
	// Near misses: the magic bytes elsewhere than where the format has them.
	nearMisses := map[string][]byte{
		"pk-in-the-middle.bin": append([]byte("some text first, then "), zip...),
		"bzh-text.txt":         []byte("BZh9 is how a bzip2 stream starts, this is not one\n"),
		"ustar-elsewhere.txt":  append(bytes.Repeat([]byte("x"), 300), "ustar\x0000 is the tar magic"...),
		"tar-shifted.bin":      append([]byte("\n"), tarball...),
		"gzip-store.bin":       []byte("\x1f\x8b\x00 gzip magic, not deflate"),
		"xz-at-one.bin":        []byte("\x00\xfd7zXZ\x00 xz magic one byte in"),
	}
	for name, content := range nearMisses {
		paths[name] = writeSample(t, dir, name, content)
		want[name] = nil
	}
	checkRouting(t, p, rules, paths, want)
}

// debugPEExe returns one of Go's debug/pe test executables (a MinGW build,
// with the usual DOS stub).
func debugPEExe(t testing.TB, name string) []byte {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "src", "debug", "pe", "testdata", name))
	if err != nil {
		t.Fatalf("debug/pe test data: %v", err)
	}
	return b
}

// withoutStub returns a copy of exe with its DOS stub text overwritten, so
// only its headers say it is a PE.
func withoutStub(t testing.TB, exe []byte) []byte {
	t.Helper()
	b := bytes.Clone(exe)
	i := bytes.Index(b, []byte("This program cannot be run in DOS mode"))
	if i < 0 {
		t.Fatal("test executable has no DOS stub text")
	}
	copy(b[i:], strings.Repeat("-", 38))
	return b
}

// mzFlood is n "MZ" markers.
func mzFlood(n int) []byte { return bytes.Repeat([]byte("MZ"), n) }

// A real PE placed behind 2 MiB of "MZ" (1,048,576 markers, more than the
// million matches libyara records per string) is dispatched to pecarve,
// with or without its DOS stub text, by the dispatcher and by the yara
// command line; the worker rules flag it as an embedded PE. The flood alone
// is not dispatched. (pecarve's TestCarvePEBehindMZFlood carves it.)
func TestShippedRulesFindPEBehindMZFlood(t *testing.T) {
	yaraCLI := needTool(t, "yara")
	rules, err := filepath.Abs(filepath.Join("rules", "dispatcher.yar"))
	if err != nil {
		t.Fatal(err)
	}
	workerRules, err := filepath.Abs(filepath.Join("rules", "stoq.yar"))
	if err != nil {
		t.Fatal(err)
	}
	p := newPlugin(t, map[string]string{"worker_rules": workerRules, "dispatch_rules": rules})
	exe := debugPEExe(t, "gcc-386-mingw-no-symbols-exec")
	flood := mzFlood(1 << 20)
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		content  []byte
		dispatch []string
		embedded bool
	}{
		{"flood+pe", append(bytes.Clone(flood), exe...), []string{"pecarve"}, true},
		{"flood+pe-without-stub", append(bytes.Clone(flood), withoutStub(t, exe)...), []string{"pecarve"}, true},
		{"flood", flood, nil, false},
	} {
		resp, _ := dispatch(t, p, tc.content)
		if !reflect.DeepEqual(resp.PluginNames, tc.dispatch) {
			t.Errorf("%s: dispatched to %v, want %v", tc.name, resp.PluginNames, tc.dispatch)
		}
		path := writeSample(t, dir, tc.name, tc.content)
		out, err := exec.Command(yaraCLI, "-w", rules, path).Output()
		if err != nil {
			t.Fatalf("yara: %v", err)
		}
		if cli := strings.Contains(string(out), "exe_file "); cli != (tc.dispatch != nil) {
			t.Errorf("%s: yara command line says exe_file %v, plugin %v", tc.name, cli, tc.dispatch)
		}
		var matched []string
		for _, m := range stoqtest.Scan(t, p, tc.content).Results.(Results).Matches {
			matched = append(matched, m.Rule)
		}
		if slices.Contains(matched, "Embedded_PE") != tc.embedded {
			t.Errorf("%s: worker rules matched %v, want Embedded_PE %v", tc.name, matched, tc.embedded)
		}
		out, err = exec.Command(yaraCLI, "-w", workerRules, path).Output()
		if err != nil {
			t.Fatalf("yara: %v", err)
		}
		if cli := strings.Contains(string(out), "Embedded_PE "); cli != tc.embedded {
			t.Errorf("%s: yara command line says Embedded_PE %v", tc.name, cli)
		}
	}
}

// The e-mail pipeline of issue 10, one level at a time: an e-mail carrying
// a zip carrying a document with an executable inside. Each level is taken
// apart with the reference tool (Python's email package, unzip) and the
// shipped rules send it where the next step happens: smtp, decompress, then
// pecarve (and exif) for the document, pecarve for the executable.
func TestShippedRulesRouteTheMailPipeline(t *testing.T) {
	p, _ := dispatchRules(t)
	python := referencePython(t)
	dir := t.TempDir()
	exe := debugPEExe(t, "gcc-386-mingw-no-symbols-exec")
	doc := append(append([]byte("%PDF-1.7\n1 0 obj\n<< /Type /EmbeddedFile /Length 0 >>\nstream\n"), exe...), "\nendstream\nendobj\n%%EOF\n"...)
	writeSample(t, dir, "invoice.pdf", doc)
	run(t, dir, "zip", "-q", "invoice.zip", "invoice.pdf")
	const makeMail = `
import sys
from email.message import EmailMessage
m = EmailMessage()
m["Return-Path"] = "<billing@example.org>"
m["Received"] = "from mx.example.org by mail.example.net; Tue, 01 Dec 2026 09:00:00 +0000"
m["From"] = "billing@example.org"
m["To"] = "victim@example.net"
m["Subject"] = "Your invoice"
m.set_content("Please find your invoice attached.\n")
with open(sys.argv[1], "rb") as f:
    m.add_attachment(f.read(), maintype="application", subtype="zip", filename="invoice.zip")
with open(sys.argv[2], "wb") as f:
    f.write(bytes(m))
`
	const takeAttachment = `
import sys
from email import message_from_binary_file, policy
with open(sys.argv[1], "rb") as f:
    m = message_from_binary_file(f, policy=policy.default)
part = next(m.iter_attachments())
with open(sys.argv[2], "wb") as f:
    f.write(part.get_content())
`
	run(t, dir, python, "-c", makeMail, "invoice.zip", "mail.eml")
	run(t, dir, python, "-c", takeAttachment, "mail.eml", "attachment.zip")
	out, err := exec.Command(needTool(t, "unzip"), "-p", filepath.Join(dir, "attachment.zip"), "invoice.pdf").Output()
	if err != nil {
		t.Fatalf("unzip: %v", err)
	}
	if !bytes.Equal(out, doc) {
		t.Fatal("the document unzipped from the mail's attachment is not the document")
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, level := range []struct {
		name    string
		content []byte
		want    []string
	}{
		{"mail.eml", read("mail.eml"), []string{"smtp"}},
		{"its attachment", read("attachment.zip"), []string{"decompress"}},
		{"the zip's document", out, []string{"pecarve", "exif"}},
		{"the document's executable", exe, []string{"pecarve"}},
	} {
		if resp, _ := dispatch(t, p, level.content); !reflect.DeepEqual(resp.PluginNames, level.want) {
			t.Errorf("%s: dispatched to %v, want %v", level.name, resp.PluginNames, level.want)
		}
	}
}
