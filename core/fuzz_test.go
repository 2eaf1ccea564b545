package core_test

import (
	"testing"

	"github.com/stoq-go/stoq/core/v3"
)

// FuzzParseManifest feeds arbitrary bytes to the manifest parser, which
// reads third-party plugins' .stoq files at install time: it must return an
// error or a manifest, never panic, and Validate must not panic either.
func FuzzParseManifest(f *testing.F) {
	f.Add(manifest("seed", map[string]string{"k": "v"}))
	f.Add([]byte("[Core]\nName = x\n[options]\nmulti = a\n  b\n  c\npct = 5%%\n"))
	f.Add([]byte("[core]\nname: ../x\n[documentation]\nversion = 1.2.3-rc.1+b\n"))
	f.Add([]byte("[DEFAULT]\na = 1\n[Core]\nName=\n"))
	f.Add([]byte("\xff\xfe[\x00]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := core.ParseManifest(data)
		if err != nil {
			return
		}
		if m.Name == "" {
			t.Fatal("manifest without a name accepted")
		}
		_ = m.Validate()
	})
}
