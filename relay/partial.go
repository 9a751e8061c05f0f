package relay

import (
	"sync"

	"github.com/regnotify/notifications"
)

// partialSet remembers, for events some targets took and others refused,
// which targets hold each one, so that when the sender sends the events
// again only the others are given them. It keeps at most size event IDs,
// forgetting the oldest first (an event forgotten this way may reach a
// target twice: receivers dedupe by ID).
type partialSet struct {
	mu      sync.Mutex
	size    int
	targets int
	holders map[string][]bool // event ID → which targets hold it
	order   []string          // IDs in the order they were first marked
}

func newPartialSet(size, targets int) *partialSet {
	return &partialSet{size: size, targets: targets, holders: make(map[string][]bool)}
}

// unheld returns the events target does not hold, in order: events itself
// when it holds none of them.
func (s *partialSet) unheld(events []notifications.Event, target int) []notifications.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.holders) == 0 {
		return events
	}
	var out []notifications.Event
	for i, e := range events {
		if h, ok := s.holders[e.ID]; ok && h[target] {
			if out == nil {
				out = append(make([]notifications.Event, 0, len(events)), events[:i]...)
			}
			continue
		}
		if out != nil {
			out = append(out, e)
		}
	}
	if out == nil {
		return events
	}
	return out
}

// mark records that target holds events.
func (s *partialSet) mark(events []notifications.Event, target int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		h, ok := s.holders[e.ID]
		if !ok {
			h = make([]bool, s.targets)
			s.holders[e.ID] = h
			s.order = append(s.order, e.ID)
		}
		h[target] = true
	}
	for len(s.holders) > s.size && len(s.order) > 0 {
		delete(s.holders, s.order[0])
		s.order = s.order[1:]
	}
	if len(s.order) > 2*s.size+16 { // IDs forgotten by forget linger in order
		kept := s.order[:0]
		for _, id := range s.order {
			if _, ok := s.holders[id]; ok {
				kept = append(kept, id)
			}
		}
		s.order = kept
	}
}

// forget drops what is known of events every target now holds.
func (s *partialSet) forget(events []notifications.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		delete(s.holders, e.ID)
	}
}

// len returns how many event IDs are remembered.
func (s *partialSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.holders)
}
