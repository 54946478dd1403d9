package clock_test

import (
	"bytes"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/internal/clock"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// fake is a settable clock that counts its reads.
type fake struct {
	mu    sync.Mutex
	t     time.Time
	reads atomic.Int64
}

func (f *fake) Now() time.Time {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fake) Set(t time.Time) {
	f.mu.Lock()
	f.t = t
	f.mu.Unlock()
}

// TestPrecise: with a clock of the application's, every reading is that clock's, to the
// nanosecond, and no goroutine ticks.
func TestPrecise(t *testing.T) {
	f := &fake{t: time.Unix(1_700_000_000, 0)}
	c := clock.New(f.Now, true)
	deadline := f.t.UnixNano()
	for _, tc := range []struct {
		at              time.Time
		before, reached bool
	}{
		{f.t.Add(-time.Hour), true, false},
		{f.t.Add(-time.Nanosecond), true, false},
		{f.t, false, true},
		{f.t.Add(time.Nanosecond), false, true},
		{f.t.Add(time.Hour), false, true},
	} {
		f.Set(tc.at)
		if got := c.NowNano(); got != tc.at.UnixNano() {
			t.Errorf("NowNano = %d, want %d", got, tc.at.UnixNano())
		}
		if got := c.Before(deadline); got != tc.before {
			t.Errorf("at %v: Before(deadline) = %v", tc.at.Sub(time.Unix(1_700_000_000, 0)), got)
		}
		if got := c.Reached(deadline); got != tc.reached {
			t.Errorf("at %v: Reached(deadline) = %v", tc.at.Sub(time.Unix(1_700_000_000, 0)), got)
		}
	}
}

// TestCoarse: the coarse clock follows the system clock without reading the given one, which
// it reads only near a deadline, within Guard of it.
func TestCoarse(t *testing.T) {
	f := &fake{t: time.Now()}
	c := clock.New(f.Now, false)
	if d := time.Duration(c.NowNano() - time.Now().UnixNano()); d > 0 || d < -time.Minute {
		t.Errorf("NowNano is %v off the system clock", d)
	}
	before := c.NowNano()
	deadline := time.Now().Add(time.Hour).UnixNano()
	past := time.Now().Add(-time.Hour).UnixNano()
	if !c.Before(deadline) || !c.Reached(past) || c.Before(past) || c.Reached(deadline) {
		t.Error("far deadlines misjudged")
	}
	// Before a far deadline and past a far one, the coarse time settles it.
	reads := f.reads.Load()
	c.Before(deadline)
	c.Reached(past)
	if n := f.reads.Load() - reads; n != 0 {
		t.Errorf("the exact clock was read %d times for deadlines an hour away", n)
	}
	// Near a deadline, the exact clock decides: this one says the deadline has passed,
	// although the coarse clock is still before it.
	near := time.Now().UnixNano()
	f.Set(time.Unix(0, near))
	if c.Before(near) || !c.Reached(near) {
		t.Error("near the deadline, the exact clock was not read")
	}
	testkit.Eventually(t, "a tick", func() bool { return c.NowNano() > before })
}

// TestCoarseClockStops: the goroutine that ticks a coarse clock ends once the clock is
// collected.
func TestCoarseClockStops(t *testing.T) {
	start := tickers(t)
	clocks := make([]*clock.Clock, 10)
	for i := range clocks {
		clocks[i] = clock.New(time.Now, false)
	}
	if n := tickers(t); n != start+len(clocks) {
		t.Fatalf("%d ticking goroutines, want %d", n, start+len(clocks))
	}
	runtime.KeepAlive(clocks)
	clocks = nil
	testkit.Eventually(t, "the ticking goroutines to end", func() bool {
		runtime.GC()
		return tickers(t) == 0
	})
}

// tickers counts the goroutines that New started to tick coarse clocks, running or not yet.
func tickers(t *testing.T) int {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	return strings.Count(b.String(), "created by github.com/cfaccess/cfaccess/internal/clock.New")
}

func TestTick(t *testing.T) {
	c := clock.New(time.Now, true)
	select {
	case <-c.Tick(time.Millisecond):
	case <-time.After(time.Minute):
		t.Fatal("no tick")
	}
}
