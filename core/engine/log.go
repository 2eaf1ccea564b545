package engine

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"
)

// parseLevel reads stoQ's (Python's) log level names and slog's.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "critical", "fatal":
		return slog.LevelError + 4, nil
	}
	return 0, fmt.Errorf("want debug, info, warning, error or critical")
}

// newLogger builds stoq's logger from the log_* settings: text or JSON on
// out and, when log_dir is set, also in LOG_DIR/stoq.log rotated by size
// (log_maxbytes rounded up to whole MiB, log_backup_count files kept). The
// Closer closes the file; it is nil when there is none.
func newLogger(ls Settings, out io.Writer) (*slog.Logger, io.Closer, error) {
	level, err := parseLevel(ls.LogLevel)
	if err != nil {
		return nil, nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	newHandler := func(w io.Writer) slog.Handler {
		if ls.LogSyntax == "json" {
			return slog.NewJSONHandler(w, opts)
		}
		return slog.NewTextHandler(w, opts)
	}
	if ls.LogDir == "" {
		return slog.New(newHandler(out)), nil, nil
	}
	if err := os.MkdirAll(ls.LogDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("log_dir: %w", err)
	}
	mib := max(1, (ls.LogMaxBytes+1<<20-1)>>20)
	file := &lumberjack.Logger{Filename: filepath.Join(ls.LogDir, "stoq.log"), MaxSize: mib, MaxBackups: ls.LogBackupCount}
	return slog.New(slog.NewMultiHandler(newHandler(out), newHandler(file))), file, nil
}
