package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stoq-go/stoq/cli/v3/internal/builder"
	"github.com/stoq-go/stoq/core/v3"
)

// HandoffEnvVar is set for the $STOQ_HOME/bin/stoq that a stoq hands off
// to, so that it never hands off again. Set it to run the very stoq typed.
const HandoffEnvVar = "STOQ_HANDOFF"

// handoff runs $STOQ_HOME/bin/stoq instead of this binary when it should:
// the process is replaced (exec), so a successful handoff never returns.
// When it returns, this binary runs the command itself.
func handoff(env *Env, args []string) {
	target, ok := handoffTarget(env, args, os.Getenv, os.Executable)
	if !ok {
		return
	}
	argv := append([]string{target}, args...)
	err := execBinary(target, argv, append(os.Environ(), HandoffEnvVar+"=1"))
	fmt.Fprintf(env.Stderr, "stoq: cannot run %s (%v): running this stoq instead\n", target, err)
}

// handoffTarget decides whether to hand off, and to which file: not when
// this stoq must run itself (handoffRefused), when there is no other
// executable $STOQ_HOME/bin/stoq (installedBinary), when that was built
// for another core version (homeBinaryIsCurrent), or when this is a `stoq
// build` binary whose plugins it lacks (homeBinaryStandsIn).
func handoffTarget(env *Env, args []string, getenv func(string) string, executable func() (string, error)) (string, bool) {
	if handoffRefused(env, args, getenv) {
		return "", false
	}
	target, ok := installedBinary(env, executable)
	if !ok {
		return "", false
	}
	record, err := builder.ReadHomeRecord(env.Home)
	if !homeBinaryIsCurrent(env, record, err) || !homeBinaryStandsIn(env, executable, record, err) {
		return "", false
	}
	return target, true
}

// homeBinaryStandsIn reports whether $STOQ_HOME/bin/stoq may run instead of
// this binary. Always, unless this is a `stoq build` binary (built on
// purpose, it runs itself): then only once an install it ran seeded
// $STOQ_HOME with its plugins (make's bin/stoq, then bin/stoq install X),
// and while $STOQ_HOME/bin/stoq links every one of them at the same
// version, except those uninstalled since. record is its build record,
// recordErr the error reading it.
func homeBinaryStandsIn(env *Env, executable func() (string, error), record builder.Record, recordErr error) bool {
	if env.Build.Kind != BuildKindBuild {
		return true
	}
	seed := seedOf(env, executable)
	if seed == nil || recordErr != nil {
		return false
	}
	return builder.HomeStandsIn(env.Home, record, seed.Binary, core.Version, seed.Plugins)
}

// handoffRefused reports whether this stoq runs itself whatever is
// installed: after a handoff ($STOQ_HANDOFF), and for the builder's own
// commands (install, uninstall and build need no plugins, and the stoq
// typed builds with its own core: `go run …/cmd/stoq build` in the
// Makefile must not run an older installed stoq). A `stoq build` binary
// hands off only to a home binary that links what it links
// (homeBinaryStandsIn).
func handoffRefused(env *Env, args []string, getenv func(string) string) bool {
	if getenv(HandoffEnvVar) != "" {
		return true
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		return a == "install" || a == "uninstall" || a == "build"
	}
	return false
}

// installedBinary is $STOQ_HOME/bin/stoq, resolved, when it is an
// executable file and not this very binary.
func installedBinary(env *Env, executable func() (string, error)) (string, bool) {
	target := filepath.Join(env.BinDir(), "stoq")
	fi, err := os.Stat(target)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return "", false
	}
	self, err := executable()
	if err != nil {
		return "", false
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	resolvedTarget, err := filepath.EvalSymlinks(target)
	if err != nil || self == resolvedTarget {
		return "", false
	}
	if sfi, err := os.Stat(self); err == nil && os.SameFile(sfi, fi) {
		return "", false
	}
	return resolvedTarget, true
}

// homeBinaryIsCurrent reports whether $STOQ_HOME/bin/stoq was
// built for this core version, from its build record (record, or err
// reading it); when it was not, it warns that stoq install --rebuild makes
// a new one. A binary without a record is used.
func homeBinaryIsCurrent(env *Env, record builder.Record, err error) bool {
	if err == nil && record.CoreVersion != core.Version {
		fmt.Fprintf(env.Stderr, "stoq: %s was built for stoq %s and this is stoq %s: not using it (rebuild it with `stoq install --rebuild`)\n",
			filepath.Join(env.BinDir(), "stoq"), record.CoreVersion, core.Version)
		return false
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(env.Stderr, "stoq: %v\n", err)
	}
	return true
}
