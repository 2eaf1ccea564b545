package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// HomeEnvVar names the environment variable that chooses stoq's home folder.
const HomeEnvVar = "STOQ_HOME"

// Env is the environment one invocation of the stoq command runs in: its
// home folder, its standard streams and its configuration file. Every
// command receives the same *Env; nothing else is global.
//
// Layout of Home (created on first use by EnsureHome):
//
//	$STOQ_HOME/stoq.cfg         the default configuration file
//	$STOQ_HOME/plugins/NAME/    installed plugins (NAME/NAME.stoq), the default plugin dir
//	$STOQ_HOME/bin/stoq         the custom binary `stoq install` builds
type Env struct {
	// Home is $STOQ_HOME, resolved to an absolute path (default ~/.stoq).
	// It may not exist yet: call EnsureHome before writing into it.
	Home string
	// Stdin, Stdout and Stderr are the command's streams.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// ConfigFile is the stoq.cfg in use: --config-file when given, otherwise
	// $STOQ_HOME/stoq.cfg. It is set before any command runs.
	ConfigFile string
	// ConfigFileExplicit reports whether ConfigFile came from --config-file.
	ConfigFileExplicit bool
	// Build is how this binary was built, as its main package told Main
	// (the zero value for a plain binary and for Run).
	Build BuildInfo
}

// NewEnv resolves the home folder from getenv (os.Getenv when nil):
// $STOQ_HOME when set and not empty, otherwise ~/.stoq. It does not touch
// the file system.
func NewEnv(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (*Env, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	home := getenv(HomeEnvVar)
	if home == "" {
		userHome := getenv("HOME")
		if userHome == "" {
			var err error
			if userHome, err = os.UserHomeDir(); err != nil {
				return nil, fmt.Errorf("cannot find stoq's home folder: set %s (%w)", HomeEnvVar, err)
			}
		}
		home = filepath.Join(userHome, ".stoq")
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", HomeEnvVar, home, err)
	}
	if stdin == nil {
		stdin = os.Stdin
	}
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	return &Env{
		Home:       abs,
		Stdin:      stdin,
		Stdout:     stdout,
		Stderr:     stderr,
		ConfigFile: filepath.Join(abs, "stoq.cfg"),
	}, nil
}

// PluginsDir is $STOQ_HOME/plugins, where installed plugins live (one
// NAME/NAME.stoq folder each). It is always searched for plugin options.
func (e *Env) PluginsDir() string { return filepath.Join(e.Home, "plugins") }

// BinDir is $STOQ_HOME/bin, where `stoq install` puts the custom binary.
func (e *Env) BinDir() string { return filepath.Join(e.Home, "bin") }

// SpoolDir is where responses a connector could not save wait to be
// re-sent (stoq.cfg [core] spool_dir overrides it).
func (e *Env) SpoolDir() string { return filepath.Join(e.Home, "spool", "results") }

// EnsureHome creates Home and Home/plugins when they are missing, and a
// commented default Home/stoq.cfg when there is none, so a new user sees
// where settings go instead of a warning. A Home that exists but is not a
// folder, or that cannot be created, is an error naming it and $STOQ_HOME.
func (e *Env) EnsureHome() error {
	if err := e.ensureDirs(); err != nil {
		return err
	}
	cfg := filepath.Join(e.Home, "stoq.cfg")
	if _, err := os.Lstat(cfg); errors.Is(err, os.ErrNotExist) {
		// Best effort: when it cannot be written, loading warns about it.
		if f, err := os.OpenFile(cfg, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
			_, werr := f.WriteString(defaultConfig)
			if cerr := f.Close(); werr != nil || cerr != nil {
				os.Remove(cfg)
			}
		}
	}
	return nil
}

// defaultConfig is the stoq.cfg written into a new $STOQ_HOME: every [core]
// key with its default, commented out.
const defaultConfig = `# stoq configuration (Python configparser syntax). Uncomment to change.
# Plugin options go in a section named after the plugin, e.g.
#   [filedir]
#   results_dir = /var/lib/stoq/results
# Precedence, highest first: --plugin-opts, this file, the installed
# manifest ($STOQ_HOME/plugins/NAME/NAME.stoq), the manifest built in.

[core]
# max_queue = 100
# provider_consumers = 2
# max_recursion = 10
# max_required_worker_depth = 10
# Limits of one scan: payloads in it (extracted ones included), content
# extracted in it, and the largest payload loaded (bytes, or 512MiB, 1GiB):
# max_payloads = 1000
# max_extracted_bytes = 1073741824
# max_payload_size = 4294967296
# log_dir =
# log_level = info
# log_maxbytes = 1500000
# log_backup_count = 5
# log_syntax = text
# Where results a connector failed to save wait to be re-sent
# (default: the spool/results folder of this home):
# spool_dir =
# spool_retry_interval = 60
# plugin_dir_list =
# providers =
# source_archivers =
# dest_archivers =
# connectors =
# dispatchers =
# decorators =
# always_dispatch =
`

func (e *Env) ensureDirs() error {
	for _, dir := range []string{e.Home, e.PluginsDir()} {
		fi, err := os.Stat(dir)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("stoq home %s: %s is not a folder (set %s to a folder)", e.Home, dir, HomeEnvVar)
		case err == nil:
			continue
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("stoq home %s: %w (set %s to a usable folder)", e.Home, err, HomeEnvVar)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("stoq home %s: cannot create it: %w (set %s to a usable folder)", e.Home, err, HomeEnvVar)
		}
	}
	return nil
}
