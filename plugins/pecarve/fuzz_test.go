package pecarve

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// FuzzScan feeds arbitrary payloads to the carver. It must never panic or
// hang, every carved PE must lie inside the payload, start with "MZ" and be
// one that peSize accepts with that size, offsets must increase, and the
// fast path must carve exactly what the generic regex path carves for the
// same headers. Seeds: synthetic PEs (valid, truncated, crafted) and a real
// one, alone and embedded; testdata/fuzz/FuzzScan holds more.
func FuzzScan(f *testing.F) {
	seeds := [][]byte{
		nil,
		[]byte("MZ"),
		bytes.Repeat([]byte("MZ"), 100),
		synthPE(synth{sections: [][2]uint32{{0x200, 0x300}}}).build(),
		synthPE(synth{plus: true, sections: [][2]uint32{{0x400, 0x200}}, cert: [2]uint32{0x600, 0x80}}).build(),
		synthPE(synth{sections: [][2]uint32{{0xffffffff, 0xffffffff}}, fileSize: 0x400}).build(),
		synthPE(synth{lfanew: 4, sections: [][2]uint32{{0x200, 0x10}}}).build(),
		synthPE(synth{sections: [][2]uint32{{0x200, 0x300}}}).build()[:0x250],
	}
	nested := synthPE(synth{sections: [][2]uint32{{0x200, 0x800}}}).build()
	copy(nested[0x233:], synthPE(synth{sections: [][2]uint32{{0x200, 0x100}}}).build())
	seeds = append(seeds, nested, append([]byte("ZZ"), nested...))
	seeds = append(seeds, fakeHeaders()...)
	seeds = append(seeds, debugPEExe(f, "gcc-386-mingw-no-symbols-exec"))
	for _, s := range seeds {
		f.Add(s)
	}

	fast := newForFuzz(f, "MZ|ZM")
	generic := newForFuzz(f, "(MZ)")
	f.Fuzz(func(t *testing.T, data []byte) {
		a := scanForFuzz(t, fast, data)
		b := scanForFuzz(t, generic, data)
		if len(a) != len(b) {
			t.Fatalf("fast path carved %d PEs, regex path %d", len(a), len(b))
		}
		last := -1
		for i, ex := range a {
			off := ex.PayloadMeta.ExtraData["offset"].(int)
			if off <= last {
				t.Fatalf("offset %d after %d", off, last)
			}
			last = off
			if b[i].PayloadMeta.ExtraData["offset"].(int) != off || len(b[i].Content) != len(ex.Content) {
				t.Fatalf("fast and regex paths disagree at PE %d", i)
			}
			if off+len(ex.Content) > len(data) || !bytes.Equal(ex.Content, data[off:off+len(ex.Content)]) {
				t.Fatalf("PE at %d is not the payload's bytes", off)
			}
			if size, ok := peSize(data[off:]); !ok || size != len(ex.Content) || size < dosHeaderSize {
				t.Fatalf("PE at %d: %d bytes carved, peSize says %d, %v", off, len(ex.Content), size, ok)
			}
		}
		// A valid PE also parses with the fields peSize relies on.
		if size, ok := peSize(data); ok {
			if data[0] != 'M' || data[1] != 'Z' || size > len(data) {
				t.Fatalf("peSize accepted %d bytes of %d not starting with MZ", size, len(data))
			}
			lfanew := binary.LittleEndian.Uint32(data[0x3c:])
			if !bytes.Equal(data[lfanew:lfanew+4], []byte("PE\x00\x00")) {
				t.Fatal("peSize accepted a PE without its signature")
			}
		}
	})
}

func newForFuzz(f *testing.F, pattern string) *Plugin {
	cfg := stoqtest.Config(f, "pecarve", map[string]string{"pe_headers": pattern, "max_carved": "1000"})
	p, err := New(cfg, stoqtest.Discard())
	if err != nil {
		f.Fatal(err)
	}
	return p
}

func scanForFuzz(t *testing.T, p *Plugin, data []byte) []core.ExtractedPayload {
	pl := stoqtest.Payload(data, nil)
	resp, err := p.Scan(context.Background(), pl, stoqtest.Request(pl))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Extracted
}
