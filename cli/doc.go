// Package cli is the stoq command: `stoq scan`, `stoq run`, `stoq list`,
// `stoq version` and shell completion, with stoQ's flags, over the core
// engine; the builder's commands (install, build) join it from
// cmd_builder.go, the commands linked plugins register (core.RegisterCommand)
// from cmd_plugin.go, and `stoq run --metrics-addr`'s Prometheus metrics
// from metrics.go. A stoq binary is a main package calling
// os.Exit(cli.Main(info)) with the wanted plugins blank-imported:
// cli/cmd/stoq links none but the built-in stdout connector (and passes the
// zero BuildInfo), and `stoq install` generates one linking the installed
// plugins (and passing what the builder recorded).
//
// Decisions, where stoQ's command line left room:
//
//   - Multi-value flags take several words as argparse's nargs='+' does
//     (`-a hash yara`), and also repeats and commas; args.go documents how
//     `stoq scan` still finds its FILE when it follows such a flag.
//   - `--plugin-opts NAME:OPTION=VALUE` and `--request-extra KEY=VALUE` split
//     on the first ':' and then the first '=', so values may hold both. A
//     request-extra value of true or false (any case) becomes a JSON boolean;
//     plugin options stay strings (the plugins' typed getters read them).
//   - With no connector from -C or stoq.cfg, responses are printed by the
//     built-in stdout connector: indented with 4 spaces for scan, one compact
//     line each for run (`--plugin-opts stdout:compactly=false` restores
//     indentation).
//   - --max-recursion is unset by default, so stoq.cfg's max_recursion or the
//     core default (10) applies; stoQ's command line forced 3.
//   - $STOQ_HOME (default ~/.stoq) is created on first use with plugins/
//     inside; $STOQ_HOME/plugins is always a plugin folder, --plugin-dir adds
//     more. A missing stoq.cfg is a warning, a malformed one an error.
//   - Exit statuses: 0 success (even when plugins recorded errors in the
//     JSON, unless --fail-on-error); 1 a scan or provider failed, or plugin
//     errors with --fail-on-error; 2 nothing was done: a bad flag, config,
//     plugin name, or a missing or empty input; 130 `stoq run` stopped by a
//     second signal.
//   - `stoq scan` maps a regular FILE into memory read-only instead of
//     reading it onto the heap, and unmaps it once the connectors have saved
//     the response. A FILE truncated by another process while it is being
//     scanned can crash the process (SIGBUS), as with any mapped file.
package cli
