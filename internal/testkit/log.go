package testkit

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// LogBuffer collects log output that servers and background goroutines write while the test
// reads it (and checks, for one, that it never holds a token).
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Count is how many times substr was written so far.
func (l *LogBuffer) Count(substr string) int { return strings.Count(l.String(), substr) }

// DebugLogger writes every record, debug included, to w as text.
func DebugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// QuietLogger formats every record of level info and above, as a real handler does, and
// throws it away.
func QuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// CaptureDefaultLog points slog.Default at a buffer, at every level, until the test ends.
// Tests that call it must not run in parallel with others that log through slog.Default.
func CaptureDefaultLog(t testing.TB) *LogBuffer {
	t.Helper()
	logs := &LogBuffer{}
	old := slog.Default()
	slog.SetDefault(DebugLogger(logs))
	t.Cleanup(func() { slog.SetDefault(old) })
	return logs
}
