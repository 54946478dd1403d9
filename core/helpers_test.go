package core_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// clock is a settable time source for Config.Now, so that cool-downs, refresh intervals and
// expiry can be crossed without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// logBuffer collects a verifier's log output, so tests can read it (and check it never holds
// a token).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newServer starts a fake team domain that closes with the test.
func newServer(t testing.TB) *accesstest.Server {
	t.Helper()
	srv := accesstest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// testConfig is srv's configuration with a quiet logger and the given clock (nil: real time).
//
// NewVerifier waits for the first key fetch to end, and a request that joins a key fetch
// waits for its end (Keys.StartupWait and Keys.FetchWait of a minute), so that what a test
// sees after a fetch does not depend on how loaded the machine is: a fetch from a healthy
// loopback server can outlast the default waits. Tests of the waits themselves, and of a
// team domain that never answers, set their own.
func testConfig(srv *accesstest.Server, clk *clock) core.Config {
	cfg := srv.Config()
	cfg.Logger = discardLogger()
	cfg.Keys.StartupWait = time.Minute
	cfg.Keys.FetchWait = time.Minute
	if clk != nil {
		cfg.Now = clk.Now
	}
	return cfg
}

// offlineConfig is the configuration of team and audiences for a verifier that must not
// reach the network: its calls to the team domain fail at once, and it does not wait for keys.
func offlineConfig(team string, audiences ...string) core.Config {
	return core.Config{
		TeamDomain: team,
		Audiences:  audiences,
		Keys:       core.KeyConfig{StartupWait: core.None},
		HTTPClient: &http.Client{Transport: offline{}},
		Logger:     discardLogger(),
	}
}

func newVerifier(t testing.TB, cfg core.Config) *core.Verifier {
	t.Helper()
	v, err := core.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// wantCode fails the test unless err is a *core.Error with code (and reason, when not empty).
func wantCode(t testing.TB, err error, code core.Code, reason core.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %s/%s", code, reason)
	}
	var e *core.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *core.Error %s/%s", err, err, code, reason)
	}
	if e.Code != code || (reason != "" && e.Reason != reason) {
		t.Fatalf("error = %s/%s (%v), want %s/%s", e.Code, e.Reason, err, code, reason)
	}
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
