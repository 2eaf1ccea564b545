package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// A directory of many more entries than max_members is cut after
// directoryLimit entries before archive/zip parses it, in the plain and in
// the zip64 form of the end record; the first members still extract.
func TestHugeDirectoryIsTruncated(t *testing.T) {
	for _, c := range []struct{ entries, members int }{{6000, 1000}, {90_000, 20_000}} {
		var buf bytes.Buffer
		buf.WriteString("prefix data, as in a self-extracting archive\n")
		zw := zip.NewWriter(&buf)
		zw.SetOffset(int64(buf.Len()))
		for i := range c.entries {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("f%06d", i), Method: zip.Store})
			fmt.Fprintf(w, "%d", i)
		}
		zw.Close()
		res := Extract(context.Background(), buf.Bytes(), Options{Limits: Limits{Members: c.members}})
		limit := directoryLimit(c.members)
		if !strings.Contains(strings.Join(res.Problems, "\n"), fmt.Sprintf("lists %d entries; only the first %d are read", c.entries, limit)) {
			t.Errorf("%d entries: problems %q", c.entries, res.Problems)
		}
		if len(res.Members) != c.members {
			t.Fatalf("%d members, want %d", len(res.Members), c.members)
		}
		for i, m := range res.Members {
			if !m.Extracted || string(m.Content) != fmt.Sprint(i) {
				t.Fatalf("member %d: %+v", i, m)
			}
		}
	}
}
