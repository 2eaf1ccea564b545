package exif

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// writeScript writes an executable shell script standing in for exiftool.
// EXIFTOOL in text is replaced by the real exiftool's path and DIR by dir.
func writeScript(t *testing.T, dir, text string) string {
	t.Helper()
	text = strings.ReplaceAll(text, "DIR", dir)
	if strings.Contains(text, "EXIFTOOL") {
		text = strings.ReplaceAll(text, "EXIFTOOL", needExiftool(t))
	}
	path := filepath.Join(dir, "fake-exiftool")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+text), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// privateTmp points $TMPDIR at an empty folder and returns it, so a test can
// check that every temporary file was removed.
func privateTmp(t *testing.T) string {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	return tmp
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%d entries left in the temporary folder: %v", len(entries), entries)
	}
}

// scanReturns runs Scan and fails the test if it has not returned after a
// minute: a hang detector, far beyond any timeout the tests set.
func scanReturns(t *testing.T, p *Plugin, content []byte) (map[string]any, error) {
	t.Helper()
	type result struct {
		res map[string]any
		err error
	}
	done := make(chan result, 1)
	go func() {
		pl := stoqtest.Payload(content, nil)
		resp, err := p.Scan(context.Background(), pl, stoqtest.Request(pl))
		if err != nil {
			done <- result{nil, err}
			return
		}
		done <- result{resp.Results.(map[string]any), nil}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-time.After(time.Minute):
		t.Fatal("Scan hung")
		return nil, nil
	}
}

// TestCrashingExiftoolIsAnErrorAndIsReplaced: an exiftool that dies gives an
// error with what it said on stderr, and the next scan gets a fresh one.
func TestCrashingExiftoolIsAnErrorAndIsReplaced(t *testing.T) {
	dir := t.TempDir()
	bin := writeScript(t, dir, `
if [ -e DIR/crash ]; then
    rm DIR/crash
    echo "fake exiftool: crashing on purpose" >&2
    exit 3
fi
exec EXIFTOOL "$@"
`)
	tmp := privateTmp(t)
	touch(t, filepath.Join(dir, "crash"))
	p := newPlugin(t, map[string]string{"bin": bin, "pool_size": "1", "timeout": "30"})

	_, err := scanReturns(t, p, pngFile(t))
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "crashing on purpose") {
		t.Fatalf("got %v, want the exit status and stderr", err)
	}
	res, err := scanReturns(t, p, pngFile(t))
	if err != nil || res["FileType"] != "PNG" {
		t.Fatalf("after the crash: %v, %v; want a fresh exiftool reading the PNG", res, err)
	}
	assertEmpty(t, tmp)
}

// TestExiftoolDyingMidAnswer: a partial answer then exit is an error too.
func TestExiftoolDyingMidAnswer(t *testing.T) {
	dir := t.TempDir()
	bin := writeScript(t, dir, `
IFS= read -r line
printf '[{"SourceFile": "half'
exit 4
`)
	p := newPlugin(t, map[string]string{"bin": bin, "pool_size": "1"})
	for range 2 { // every call fails cleanly, none hangs
		if _, err := scanReturns(t, p, []byte("x")); err == nil || !strings.Contains(err.Error(), "exit status 4") {
			t.Errorf("got %v, want exit status 4", err)
		}
	}
}

// TestHangingExiftoolIsKilledAndReplaced: an exiftool that never answers
// (here a shell waiting on a child that sleeps) is killed with its child
// when the call's deadline passes, the scan fails, and the next scan works.
// The deadline comes from the context, as the engine gives it; the next
// call, without one, may take as long as a fresh exiftool needs to start.
func TestHangingExiftoolIsKilledAndReplaced(t *testing.T) {
	dir := t.TempDir()
	bin := writeScript(t, dir, `
if [ -e DIR/hang ]; then
    rm DIR/hang
    sleep 600 &
    echo $! > DIR/sleep.pid
    wait
fi
exec EXIFTOOL "$@"
`)
	tmp := privateTmp(t)
	touch(t, filepath.Join(dir, "hang"))
	p := newPlugin(t, map[string]string{"bin": bin, "pool_size": "1"})

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	pl := stoqtest.Payload(jpegFile(t), nil)
	_, err := p.Scan(ctx, pl, stoqtest.Request(pl))
	if err == nil || !strings.Contains(err.Error(), "did not answer in time") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a timeout", err)
	}
	pidText, err := os.ReadFile(filepath.Join(dir, "sleep.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	waitDead(t, pid)

	res, err := scanReturns(t, p, jpegFile(t))
	if err != nil || res["FileType"] != "JPEG" {
		t.Fatalf("after the hang: %v, %v; want a fresh exiftool reading the JPEG", res, err)
	}
	assertEmpty(t, tmp)
}

// TestCallDeadlineBoundsAScan: the call's deadline (the engine's timeout
// option) ends a scan of an exiftool that never answers.
func TestCallDeadlineBoundsAScan(t *testing.T) {
	bin := writeScript(t, t.TempDir(), "exec sleep 600\n")
	tmp := privateTmp(t)
	p := newPlugin(t, map[string]string{"bin": bin, "pool_size": "1"})
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		pl := stoqtest.Payload([]byte("x"), nil)
		_, err := p.Scan(ctx, pl, stoqtest.Request(pl))
		cancel()
		if err == nil || !strings.Contains(err.Error(), "did not answer in time") {
			t.Errorf("got %v, want a timeout", err)
		}
	}
	assertEmpty(t, tmp)
}

// waitDead waits until process pid is gone or a zombie (killed, not yet
// reaped by init). Waiting is needed because SIGKILL is asynchronous.
func waitDead(t *testing.T, pid int) {
	t.Helper()
	for range 600 {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("the hung exiftool's child %d is still running: it was not killed", pid)
}

// TestGarbageAnswerIsAnErrorAndTheProcessIsReplaced drives the protocol
// with a fake that answers with something that is not JSON, once.
func TestGarbageAnswerIsAnErrorAndTheProcessIsReplaced(t *testing.T) {
	dir := t.TempDir()
	bin := writeScript(t, dir, `
if [ -e DIR/garbage ]; then
    rm DIR/garbage
    while IFS= read -r line; do
        case "$line" in
            -echo4) IFS= read -r marker ;;
            -execute*) echo "Syntax: exiftool [OPTIONS] FILE"; echo "{ready${line#-execute}}"; echo "$marker" >&2 ;;
        esac
    done
fi
exec EXIFTOOL "$@"
`)
	touch(t, filepath.Join(dir, "garbage"))
	p := newPlugin(t, map[string]string{"bin": bin, "pool_size": "1"})
	if _, err := scanReturns(t, p, pdfFile()); err == nil || !strings.Contains(err.Error(), "not its JSON") {
		t.Fatalf("got %v, want an error about the output", err)
	}
	if res, err := scanReturns(t, p, pdfFile()); err != nil || res["FileType"] != "PDF" {
		t.Fatalf("after the garbage: %v, %v", res, err)
	}
}

// TestPayloadFileIsPrivateAndRemoved: a fake exiftool speaking the protocol
// records the mode of the file it is given and of its folder.
func TestPayloadFileIsPrivateAndRemoved(t *testing.T) {
	dir := t.TempDir()
	bin := writeScript(t, dir, `
while IFS= read -r line; do
    case "$line" in
        -echo4) IFS= read -r marker ;;
        -stay_open) exit 0 ;;
        -execute*)
            printf '[{"SourceFile": "%s", "FileType": "FAKE", "FileSize": %s}]\n' "$file" "$(stat -c %s "$file")"
            echo "{ready${line#-execute}}"
            echo "$marker" >&2 ;;
        -*) ;;
        *) file=$line; stat -c '%a' "$file" "$(dirname "$file")" >> DIR/modes ;;
    esac
done
`)
	tmp := privateTmp(t)
	p := newPlugin(t, map[string]string{"bin": bin, "pool_size": "2"})
	for _, content := range [][]byte{[]byte("first payload"), nil, pngFile(t)} {
		res, err := scanReturns(t, p, content)
		if err != nil || res["FileType"] != "FAKE" || res["SourceFile"] != "-" || res["FileSize"] != jsonNumber(len(content)) {
			t.Errorf("got %v, %v", res, err)
		}
	}
	modes, err := os.ReadFile(filepath.Join(dir, "modes"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(modes)); strings.Join(got, " ") != "600 700 600 700 600 700" {
		t.Errorf("file and folder modes %v, want 600 and 700 each time", got)
	}
	assertEmpty(t, tmp)
}

// TestAlwaysFailingExiftool: every call errors, promptly, and Close works.
func TestAlwaysFailingExiftool(t *testing.T) {
	bin := writeScript(t, t.TempDir(), "exit 1\n")
	p := newPlugin(t, map[string]string{"bin": bin, "pool_size": "2"})
	for range 3 {
		if _, err := scanReturns(t, p, []byte("x")); err == nil {
			t.Error("want an error")
		}
	}
	if err := p.HealthCheck(context.Background()); err == nil {
		t.Error("HealthCheck: want an error")
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
}

// TestCancelledScanKillsTheCall: cancelling the context (the engine
// abandoning a call) while exiftool works ends the scan with the context's
// error.
func TestCancelledScanKillsTheCall(t *testing.T) {
	dir := t.TempDir()
	bin := writeScript(t, dir, `
IFS= read -r line
touch DIR/started
exec sleep 600
`)
	p := newPlugin(t, map[string]string{"bin": bin, "pool_size": "1"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pl := stoqtest.Payload([]byte("x"), nil)
	done := make(chan error, 1)
	go func() {
		_, err := p.Scan(ctx, pl, stoqtest.Request(pl))
		done <- err
	}()
	for range 600 { // until the fake has the command
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "killed") {
			t.Errorf("got %v, want context.Canceled after killing exiftool", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Scan hung after cancel")
	}
}

func jsonNumber(n int) any { return json.Number(strconv.Itoa(n)) }
