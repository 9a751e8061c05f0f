package receiver

import (
	"sync"

	"github.com/regnotify/notifications"
)

// idSet remembers the IDs of handled events, at most size of them: a ring of
// IDs in the order they were handled, and a set to look them up. It also
// knows which IDs a request is handling now, so that two requests never hand
// the same event to the application at once.
type idSet struct {
	mu       sync.Mutex
	size     int
	handled  map[string]struct{}
	ring     []string // grows to size, then the oldest entry is overwritten
	next     int      // where the next ID goes once ring is full
	inFlight map[string]struct{}
}

func newIDSet(size int) *idSet {
	return &idSet{size: size, handled: make(map[string]struct{}), inFlight: make(map[string]struct{})}
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

// commit records events as handled, forgetting the oldest IDs beyond size.
func (s *idSet) commit(events []notifications.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		delete(s.inFlight, e.ID)
		if _, ok := s.handled[e.ID]; ok {
			continue
		}
		s.handled[e.ID] = struct{}{}
		if len(s.ring) < s.size {
			s.ring = append(s.ring, e.ID)
			continue
		}
		delete(s.handled, s.ring[s.next])
		s.ring[s.next] = e.ID
		s.next = (s.next + 1) % s.size
	}
}

// contains reports whether id was handled and is still remembered.
func (s *idSet) contains(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.handled[id]
	return ok
}
