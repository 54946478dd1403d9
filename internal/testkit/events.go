package testkit

import (
	"slices"
	"sync"

	"github.com/cfaccess/cfaccess/core"
)

// EventLog records what an observer sees; servers' goroutines may add to it while the test
// reads it. Its Add is an observer.
type EventLog struct {
	mu     sync.Mutex
	events []core.Event
}

// Add records e.
func (l *EventLog) Add(e core.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// All is every event recorded since the last Reset, in order.
func (l *EventLog) All() []core.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// Reset forgets the events recorded so far.
func (l *EventLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = nil
}

// Count is how many of the events recorded had outcome o and code c.
func (l *EventLog) Count(o core.Outcome, c core.Code) int {
	n := 0
	for _, e := range l.All() {
		if e.Outcome == o && e.Code == c {
			n++
		}
	}
	return n
}
