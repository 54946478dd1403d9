// Package clock is the time source of the verifier's caches: a coarse clock, so that a cached
// lookup need not read the system clock, which costs about as much as the rest of the lookup.
package clock

import (
	"sync/atomic"
	"time"
	"weak"
)

// The cached path must cost well under a microsecond, and reading the system clock is a good
// part of that on common virtual machines (25–55 ns, 10–15% of a cached request through an
// adapter). So the caches read a coarse clock, a variable
// that a goroutine sets to time.Now every Interval, and read the exact time only near a
// deadline: within Guard of it, or past it.
//
// The bound this gives: a deadline (a token's exp + leeway, an identity's TTL) is enforced to
// the nanosecond unless the coarse clock is more than Guard off, which takes the ticking
// goroutine held up for a second or the system clock stepped by a second between two ticks; even
// then a deadline is late by at most that much, and by no more than one tick once the goroutine
// runs again. The coarse clock reads the wall clock, like exp itself: a monotonic reading (as in
// otter's own coarse clock) drifts away from it when the system clock is stepped.
const (
	Interval = 10 * time.Millisecond
	Guard    = time.Second
)

// Clock is the time source of both caches, and their otter.Clock. Given a clock of the
// application's (a test's), it reads it every time and starts no goroutine, so tests keep
// exact control.
type Clock struct {
	now    func() time.Time
	coarse atomic.Int64 // UnixNano of the latest tick; 0 when the precise clock is read every time
}

// New returns a clock over now; precise means now is to be read every time.
func New(now func() time.Time, precise bool) *Clock {
	c := &Clock{now: now}
	if !precise {
		c.coarse.Store(time.Now().UnixNano())
		go tickClock(weak.Make(c))
	}
	return c
}

// tickClock keeps c.coarse current until c is collected: it holds c weakly, so that a dropped
// Verifier takes its goroutine with it.
func tickClock(wc weak.Pointer[Clock]) {
	t := time.NewTicker(Interval)
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
// the precise clock. It is what otter expires entries by.
func (c *Clock) NowNano() int64 {
	if n := c.coarse.Load(); n != 0 {
		return n
	}
	return c.now().UnixNano()
}

// Tick serves otter's periodic clean-up of expired entries.
func (c *Clock) Tick(d time.Duration) <-chan time.Time {
	return time.NewTicker(d).C
}

// Before reports whether the exact time is before deadline (UnixNano). The coarse time settles
// it when it is well before; otherwise the exact time is read.
func (c *Clock) Before(deadline int64) bool {
	if n := c.coarse.Load(); n != 0 && n < deadline-int64(Guard) {
		return true
	}
	return c.now().UnixNano() < deadline
}

// Reached reports whether the exact time is at or after t (UnixNano), as Before does.
func (c *Clock) Reached(t int64) bool {
	if n := c.coarse.Load(); n != 0 && n >= t+int64(Guard) {
		return true
	}
	return c.now().UnixNano() >= t
}
