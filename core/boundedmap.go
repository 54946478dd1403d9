package core

import "time"

// boundedMap is the storage of both caches: a map of at most max entries. When full, it
// first drops stale entries (at most once a second, since that walks the map), then
// arbitrary ones. It has no lock of its own: its owner holds one.
type boundedMap[V any] struct {
	entries   map[string]V
	max       int
	stale     func(v V, now time.Time) bool
	nextSweep time.Time
}

func newBoundedMap[V any](max int, stale func(V, time.Time) bool) boundedMap[V] {
	return boundedMap[V]{entries: make(map[string]V), max: max, stale: stale}
}

// set stores v under key. The key must be the caller's own copy (strings.Clone): a token
// from the request may alias a buffer its framework reuses for the next request (fasthttp
// does), which would rewrite the key in the map.
func (m *boundedMap[V]) set(key string, v V, now time.Time) {
	if _, ok := m.entries[key]; !ok && len(m.entries) >= m.max {
		m.makeRoom(now)
	}
	m.entries[key] = v
}

func (m *boundedMap[V]) makeRoom(now time.Time) {
	if !now.Before(m.nextSweep) {
		m.nextSweep = now.Add(time.Second)
		for k, v := range m.entries {
			if m.stale(v, now) {
				delete(m.entries, k)
			}
		}
	}
	for k := range m.entries {
		if len(m.entries) < m.max {
			break
		}
		delete(m.entries, k)
	}
}
