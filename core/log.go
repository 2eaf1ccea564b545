package core

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"
)

// LogSettings are stoq.cfg's log_* keys.
type LogSettings struct {
	Dir         string // log_dir: also write DIR/stoq.log, rotated
	Level       string // log_level: debug, info, warning, error, critical
	MaxBytes    int    // log_maxbytes: rotate after this size (rounded up to whole MiB)
	BackupCount int    // log_backup_count: rotated files kept
	Syntax      string // log_syntax: text or json
}

// ParseLevel reads stoQ's (Python's) log level names and slog's.
func ParseLevel(s string) (slog.Level, error) {
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
	return 0, fmt.Errorf("log level %q: want debug, info, warning, error or critical", s)
}

// NewLogger builds stoq's logger: text or JSON on stderr and, when Dir is
// set, also in Dir/stoq.log rotated by size. The Closer closes the file.
func NewLogger(ls LogSettings, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	level, err := ParseLevel(ls.Level)
	if err != nil {
		return nil, nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	newHandler := func(w io.Writer) slog.Handler {
		if strings.EqualFold(ls.Syntax, "json") {
			return slog.NewJSONHandler(w, opts)
		}
		return slog.NewTextHandler(w, opts)
	}
	if ls.Dir == "" {
		return slog.New(newHandler(stderr)), nopCloser{}, nil
	}
	if err := os.MkdirAll(ls.Dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("log_dir: %w", err)
	}
	mib := (ls.MaxBytes + 1<<20 - 1) >> 20
	if mib < 1 {
		mib = 1
	}
	file := &lumberjack.Logger{Filename: filepath.Join(ls.Dir, "stoq.log"), MaxSize: mib, MaxBackups: ls.BackupCount}
	return slog.New(slog.NewMultiHandler(newHandler(stderr), newHandler(file))), file, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
