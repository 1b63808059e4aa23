package credhelper

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// NewLogger returns the logger the configuration asks for: nothing by
// default, stderr at DOCKER_CREDENTIAL_SECRETSMANAGER_LOG's level, or the
// file named by DOCKER_CREDENTIAL_SECRETSMANAGER_LOG_FILE (created 0600).
// The returned closer releases the file. Log lines never carry secrets:
// callers log registries, sources, expiries and error messages only.
func NewLogger(cfg *Config, stderr io.Writer) (*slog.Logger, func() error) {
	noop := func() error { return nil }
	if cfg.LogLevel == "" {
		return slog.New(slog.DiscardHandler), noop
	}
	level := slog.LevelInfo
	if cfg.LogLevel == "debug" {
		level = slog.LevelDebug
	}
	w, closer := stderr, noop
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "%s: cannot open log file: %v (logging to stderr)\n", Name, err)
		} else {
			if err := f.Chmod(0o600); err != nil {
				fmt.Fprintf(stderr, "%s: cannot restrict log file to 0600: %v\n", Name, err)
			}
			w, closer = f, f.Close
		}
	}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("pid", os.Getpid()), closer
}
