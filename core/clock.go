package core

import (
	"sync/atomic"
	"time"
	"weak"
)

// The cached path must cost well under a microsecond, and reading the system clock is half of
// that on common virtual machines (~25–50 ns). So the caches read a coarse clock, a variable
// that a goroutine sets to time.Now every clockTick, and read the exact time only near a
// deadline: within clockGuard of it, or past it.
//
// The bound this gives: a deadline (a token's exp + leeway, an identity's TTL) is enforced to
// the nanosecond unless the coarse clock is more than clockGuard off, which takes the ticking
// goroutine held up for a second or the system clock stepped by a second between two ticks; even
// then a deadline is late by at most that much, and by no more than one tick once the goroutine
// runs again. The coarse clock reads the wall clock, like exp itself: a monotonic reading (as in
// otter's own coarse clock) drifts away from it when the system clock is stepped.
const (
	clockTick  = 10 * time.Millisecond
	clockGuard = time.Second
)

// clock is the time source of both caches, and their otter.Clock. With Config.Now set, it
// reads Config.Now every time (and starts no goroutine), so tests keep exact control.
type clock struct {
	now    func() time.Time
	coarse atomic.Int64 // UnixNano of the latest tick; 0 when Config.Now is the clock
}

// newClock returns a clock over now; precise means now is Config.Now, to be read every time.
func newClock(now func() time.Time, precise bool) *clock {
	c := &clock{now: now}
	if !precise {
		c.coarse.Store(time.Now().UnixNano())
		go tickClock(weak.Make(c))
	}
	return c
}

// tickClock keeps c.coarse current until c is collected: it holds c weakly, so that a dropped
// Verifier takes its goroutine with it.
func tickClock(wc weak.Pointer[clock]) {
	t := time.NewTicker(clockTick)
	defer t.Stop()
	for now := range t.C {
		c := wc.Value()
		if c == nil {
			return
		}
		c.coarse.Store(now.UnixNano())
	}
}

// NowNano returns the time cheaply, as nanoseconds since the Unix epoch: the latest tick, or
// Config.Now. It is what otter expires entries by.
func (c *clock) NowNano() int64 {
	if n := c.coarse.Load(); n != 0 {
		return n
	}
	return c.now().UnixNano()
}

// Tick serves otter's periodic clean-up of expired entries.
func (c *clock) Tick(d time.Duration) <-chan time.Time {
	return time.NewTicker(d).C
}

// before reports whether the exact time is before deadline (UnixNano). The coarse time settles
// it when it is well before; otherwise the exact time is read.
func (c *clock) before(deadline int64) bool {
	if n := c.coarse.Load(); n != 0 && n < deadline-int64(clockGuard) {
		return true
	}
	return c.now().UnixNano() < deadline
}

// reached reports whether the exact time is at or after t (UnixNano), as before does.
func (c *clock) reached(t int64) bool {
	if n := c.coarse.Load(); n != 0 && n >= t+int64(clockGuard) {
		return true
	}
	return c.now().UnixNano() >= t
}
