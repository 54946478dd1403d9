package testkit

import (
	"sync"
	"time"
)

// Clock is a settable time source for Config.Now, so that cool-downs, refresh intervals and
// expiry can be crossed without sleeping. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock that stands at the present until it is moved.
func NewClock() *Clock { return NewClockAt(time.Now()) }

// NewClockAt returns a Clock that stands at t until it is moved.
func NewClockAt(t time.Time) *Clock { return &Clock{t: t} }

// Now is the time the clock stands at.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d and returns the time it then stands at.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
