//go:build unix

package engine_test

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/mmapfile"
)

// shrinkingFile writes a 16 MiB file and returns its path.
func shrinkingFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(path, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// truncatingWorker waits, on its first byte read, for the test to truncate
// the payload's file, then reads all of it: with read set, on a goroutine
// of its own; it extracts its second half.
type truncatingWorker struct {
	started, truncated chan struct{}
	ownGoroutine       bool
	extractOnly        bool // return the second half unread: the engine's hashing meets the fault
	once               sync.Once
}

func (w *truncatingWorker) Scan(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	_ = p.Content[0]
	w.once.Do(func() { close(w.started) })
	<-w.truncated
	if w.extractOnly {
		return &core.WorkerResponse{Extracted: []core.ExtractedPayload{{Content: p.Content[len(p.Content)/2:]}}}, nil
	}
	var sum [32]byte
	if w.ownGoroutine {
		done := make(chan struct{})
		go func() { sum = sha256.Sum256(p.Content); close(done) }()
		<-done
	} else {
		sum = sha256.Sum256(p.Content)
	}
	half := p.Content[len(p.Content)/2:]
	return &core.WorkerResponse{Results: map[string]any{"sha256": sum[:4]}, Extracted: []core.ExtractedPayload{{Content: half}}}, nil
}

func scanWhileTruncating(t *testing.T, w *truncatingWorker, content []byte, path string) *core.StoqResponse {
	t.Helper()
	name := register(t, "truncating", w, nil)
	s := newEngine(t, engine.WithMaxRecursion(1))
	done := make(chan *core.StoqResponse, 1)
	go func() {
		resp, err := s.Scan(context.Background(), content, nil, nil, name)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	<-w.started
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	close(w.truncated)
	return <-done
}

func TestAFileShrinkingUnderAnUnguardedMappingIsAnError(t *testing.T) {
	path := shrinkingFile(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Mapped without core/mmapfile's guard: reads past the new end fault.
	data, err := unix.Mmap(int(f.Fd()), 0, 16<<20, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(data)
	w := &truncatingWorker{started: make(chan struct{}), truncated: make(chan struct{})}
	resp := scanWhileTruncating(t, w, data, path)
	msgs := strings.Join(errorsOf(resp), "\n")
	if !strings.Contains(msgs, "the payload's memory could not be read") || !strings.Contains(msgs, "shrank") {
		t.Errorf("errors %q, want the fault recorded", msgs)
	}
	if len(resp.Results) != 1 {
		t.Errorf("%d payloads: the worker's call failed, nothing is extracted", len(resp.Results))
	}

	// The engine's own read, hashing what was extracted, faults too.
	w = &truncatingWorker{started: make(chan struct{}), truncated: make(chan struct{}), extractOnly: true}
	if err := os.WriteFile(path, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	resp = scanWhileTruncating(t, w, data, path)
	msgs = strings.Join(errorsOf(resp), "\n")
	if len(resp.Results) != 1 || !strings.Contains(msgs, "extracted payload dropped: the payload's memory could not be read") {
		t.Errorf("%d payloads, errors %q: want the extracted payload dropped with an Error", len(resp.Results), msgs)
	}
}

func TestAFileShrinkingUnderAGuardedMappingIsScannedAsItWas(t *testing.T) {
	path := shrinkingFile(t)
	m, err := mmapfile.Open(path, mmapfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.Guarded() {
		t.Skip("no lease on this file system")
	}
	// The worker reads from a goroutine of its own, which no fault
	// protection covers: only the guard keeps the process alive.
	w := &truncatingWorker{started: make(chan struct{}), truncated: make(chan struct{}), ownGoroutine: true}
	resp := scanWhileTruncating(t, w, m.Bytes(), path)
	if len(resp.Results) != 2 {
		t.Fatalf("%d payloads, want the root and its second half", len(resp.Results))
	}
	msgs := strings.Join(errorsOf(resp), "\n")
	if len(resp.Errors) != 2 || !strings.Contains(msgs, "written to or truncated while it was scanned") || !strings.Contains(msgs, "Final worker round") {
		t.Errorf("errors %q, want the change noted (and the last round's)", msgs)
	}
}
