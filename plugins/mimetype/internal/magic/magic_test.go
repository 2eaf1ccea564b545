package magic

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIdentifyBasics(t *testing.T) {
	c, err := Open("", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Limit() != DefaultLimit {
		t.Errorf("Limit = %d, want %d", c.Limit(), DefaultLimit)
	}
	cases := map[string]string{
		"":                         Empty,
		"x":                        "application/octet-stream",
		"This is a magical string": "text/plain",
		"%PDF-1.4\n%%EOF\n":        "application/pdf",
		"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00": "image/png",
		"\x89PNG\r\n\x1a\n":            "application/octet-stream", // a signature alone is not a PNG to libmagic
		"\x1f\x8b\x08\x00\x00\x00\x00": "application/gzip",
	}
	for in, want := range cases {
		got, err := c.Identify([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got != want {
			t.Errorf("Identify(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestInMemoryFileIsReset: a long payload followed by a short one leaves
// nothing of the first in the file libmagic reads.
func TestInMemoryFileIsReset(t *testing.T) {
	c, err := Open("", 64)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A zip end-of-central-directory record at the very end of a long
	// payload: with a 64-byte limit it is still seen (the tail is written).
	zipTail := append(bytes.Repeat([]byte{0xAA}, 500), "PK\x05\x06"...)
	zipTail = append(zipTail, make([]byte, 18)...)
	first, err := c.Identify(zipTail)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Identify(bytes.Repeat([]byte("plain words "), 3))
	if err != nil {
		t.Fatal(err)
	}
	if second != "text/plain" {
		t.Errorf("short text after a long payload = %s (first was %s)", second, first)
	}
}

func TestClosedCookie(t *testing.T) {
	c, err := Open("", 0)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if _, err := c.Identify([]byte("x")); err == nil {
		t.Error("Identify on a closed cookie succeeded")
	}
	if _, err := c.Buffer([]byte("x")); err == nil {
		t.Error("Buffer on a closed cookie succeeded")
	}
}

func TestOpenMissingDatabase(t *testing.T) {
	_, err := Open("/nonexistent/stoq.mgc", 0)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/stoq.mgc") {
		t.Fatalf("err = %v, want one naming the database", err)
	}
}

func TestVersion(t *testing.T) {
	if v := Version(); v < 500 {
		t.Errorf("libmagic version %d", v)
	}
}

// TestPoolBoundsCookies: however many goroutines call at once, no more
// cookies exist than the pool's size, and each call gets the right answer.
func TestPoolBoundsCookies(t *testing.T) {
	p, err := NewPool("", 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var wg sync.WaitGroup
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				got, err := p.Identify(context.Background(), []byte("%PDF-1.7\n"))
				if err != nil || got != "application/pdf" {
					t.Errorf("Identify = %q, %v", got, err)
					return
				}
				if n := p.Size(); n > 3 {
					t.Errorf("%d cookies, pool size 3", n)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestPoolWaitEndsWithContext: with the only cookie busy, a caller whose
// context ends stops waiting.
func TestPoolWaitEndsWithContext(t *testing.T) {
	p, err := NewPool("", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	busy := <-p.idle // take the only cookie
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Identify(ctx, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	p.idle <- busy
	if got, err := p.Identify(context.Background(), []byte("x")); err != nil || got != "application/octet-stream" {
		t.Errorf("after the cookie came back: %q, %v", got, err)
	}
}

func TestPoolClose(t *testing.T) {
	p, err := NewPool("", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close()
	if _, err := p.Identify(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("err = %v, want ErrClosed", err)
	}
}
