package builder

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stoq-go/stoq/core/v3/atomicfile"
)

// Record is how a generated binary was built: its kind, the core and Go
// versions, and the plugins it links. The generated main.go hands it to
// cli.Main (as a cli.BuildInfo), so `stoq version` names each plugin with
// its version and source; buildinfo.json keeps it beside the build.
type Record struct {
	// Kind is KindInstall for $STOQ_HOME/bin/stoq, KindBuild for a
	// `stoq build` binary.
	Kind string `json:"kind"`
	// CoreVersion is the core.Version it links.
	CoreVersion string `json:"core_version"`
	// GoVersion is the toolchain that built it.
	GoVersion string         `json:"go_version"`
	Plugins   []LinkedPlugin `json:"plugins"`
}

// LinkedPlugin is one plugin a generated binary links.
type LinkedPlugin struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Module  string `json:"module"`
	// Source says where it came from (spec, repository, ref, commit).
	Source string `json:"source"`
}

// The kinds of generated binary.
const (
	KindInstall = "install"
	KindBuild   = "build"
)

// The files of a build folder that record the binary built from it.
const (
	recordFile      = "buildinfo.json"
	fingerprintFile = "fingerprint"
)

// newRecord is the record of the binary in made with toolchain version
// goVersion.
func newRecord(in buildInputs, goVersion string) Record {
	r := Record{Kind: in.Kind, CoreVersion: in.CoreVersion, GoVersion: goVersion}
	for _, l := range in.Links {
		r.Plugins = append(r.Plugins, LinkedPlugin{Name: l.Name, Version: l.Version, Module: l.Module, Source: l.Source})
	}
	return r
}

// recordBuild writes, once the binary is in place, its record and the
// fingerprint of its inputs into the build folder dir; the fingerprint is
// what lets the next build with the same inputs build nothing.
func recordBuild(dir string, r Record, fingerprint string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	// The record is informative (the handoff reads it to warn); only a
	// missing fingerprint would change what the next build does.
	_, _ = atomicfile.WriteFile(filepath.Join(dir, recordFile), append(data, '\n'), atomicfile.Options{Perm: 0o644})
	_, err = atomicfile.WriteFile(filepath.Join(dir, fingerprintFile), []byte(fingerprint), atomicfile.Options{Perm: 0o644})
	return err
}

// ReadHomeRecord reads the record of $STOQ_HOME/bin/stoq's build.
func ReadHomeRecord(home string) (Record, error) {
	var r Record
	path := filepath.Join(stoqHome{home}.BuildDir(), recordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
