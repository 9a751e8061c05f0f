package receiver

import (
	"sync"

	"github.com/regnotify/notifications"
)

// idOverhead is what one remembered ID costs beyond its bytes, as counted
// against Config.DedupeBytes: its map entry and its slot in the order queue,
// rounded up.
const idOverhead = 64

// idCost is what remembering id counts against Config.DedupeBytes.
func idCost(id string) int64 { return int64(len(id)) + idOverhead }

// idSet remembers the IDs of handled events, at most size of them and at
// most maxBytes of them by idCost: a queue of IDs in the order they were
// handled, and a set to look them up; the oldest are forgotten first. It also
// knows which IDs a request is handling now, so that two requests never hand
// the same event to the application at once.
type idSet struct {
	mu       sync.Mutex
	size     int
	maxBytes int64
	bytes    int64 // idCost of the handled IDs
	handled  map[string]struct{}
	order    []string // handled IDs, oldest first from order[head]
	head     int
	inFlight map[string]struct{}
}

func newIDSet(size int, maxBytes int64) *idSet {
	return &idSet{size: size, maxBytes: maxBytes, handled: make(map[string]struct{}), inFlight: make(map[string]struct{})}
}

// claim returns the events whose IDs were not handled yet (the first of each
// ID when one repeats), and marks them in flight. busy is true, and nothing is
// claimed, when another request is handling one of those IDs now.
func (s *idSet) claim(events []notifications.Event) (fresh []notifications.Event, busy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	taken := make(map[string]struct{}, len(events))
	for _, e := range events {
		if _, ok := s.handled[e.ID]; ok {
			continue
		}
		if _, ok := taken[e.ID]; ok {
			continue
		}
		if _, ok := s.inFlight[e.ID]; ok {
			return nil, true
		}
		taken[e.ID] = struct{}{}
		fresh = append(fresh, e)
	}
	for id := range taken {
		s.inFlight[id] = struct{}{}
	}
	return fresh, false
}

// release forgets that events are in flight: they were not handled.
func (s *idSet) release(events []notifications.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		delete(s.inFlight, e.ID)
	}
}

// commit records events as handled, forgetting the oldest IDs beyond size
// or maxBytes.
func (s *idSet) commit(events []notifications.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		delete(s.inFlight, e.ID)
		if _, ok := s.handled[e.ID]; ok {
			continue
		}
		s.handled[e.ID] = struct{}{}
		s.order = append(s.order, e.ID)
		s.bytes += idCost(e.ID)
	}
	for len(s.handled) > s.size || s.bytes > s.maxBytes {
		s.forgetOldest()
	}
}

// forgetOldest drops the oldest handled ID, compacting the queue once half
// of it is spent.
func (s *idSet) forgetOldest() {
	id := s.order[s.head]
	s.order[s.head] = ""
	s.head++
	delete(s.handled, id)
	s.bytes -= idCost(id)
	if s.head > len(s.order)/2 {
		s.order = append(s.order[:0:0], s.order[s.head:]...)
		s.head = 0
	}
}

// contains reports whether id was handled and is still remembered.
func (s *idSet) contains(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.handled[id]
	return ok
}
