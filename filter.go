package notifications

import (
	"fmt"
	"path"
	"slices"
	"sync/atomic"
)

// IgnoreConfig lists the events an endpoint is not sent. An event matching
// any of the lists is ignored; each list works on its own, and an empty list
// matches nothing.
type IgnoreConfig struct {
	// Actions are event actions, such as EventActionPull, compared exactly.
	Actions []string

	// TargetTypes are target types, such as EventTargetTypeBlob, compared
	// exactly.
	TargetTypes []string

	// Repositories are path.Match patterns matched against the target's
	// repository name, such as "library/*" or "scratch". OpenEndpoint refuses
	// a malformed pattern; NewEndpoint logs it, and it matches nothing.
	Repositories []string
}

// empty reports whether c ignores nothing.
func (c IgnoreConfig) empty() bool {
	return len(c.Actions) == 0 && len(c.TargetTypes) == 0 && len(c.Repositories) == 0
}

// validate returns an error wrapping ErrInvalidConfig for the first
// malformed repository pattern.
func (c IgnoreConfig) validate(name string) error {
	for _, pattern := range c.Repositories {
		if _, err := path.Match(pattern, ""); err != nil {
			return fmt.Errorf("%w: endpoint %q: Ignore.Repositories pattern %q: %w", ErrInvalidConfig, name, pattern, err)
		}
	}
	return nil
}

// ignores reports whether c ignores e.
func (c IgnoreConfig) ignores(e *Event) bool {
	if slices.Contains(c.Actions, e.Action) || slices.Contains(c.TargetTypes, e.Target.Type) {
		return true
	}
	for _, pattern := range c.Repositories {
		if ok, err := path.Match(pattern, e.Target.Name); ok && err == nil {
			return true
		}
	}
	return false
}

// ignoreFilter drops the events its IgnoreConfig ignores and writes the rest
// of each block, still together and in order, to the next sink. A block of
// ignored events only is not written at all.
type ignoreFilter struct {
	next   Sink
	ignore IgnoreConfig
	closed atomic.Bool
}

var _ Sink = (*ignoreFilter)(nil)

// newIgnoreFilter returns next itself when ignore ignores nothing.
func newIgnoreFilter(next Sink, ignore IgnoreConfig) Sink {
	if ignore.empty() {
		return next
	}
	ignore = IgnoreConfig{
		Actions:      slices.Clone(ignore.Actions),
		TargetTypes:  slices.Clone(ignore.TargetTypes),
		Repositories: slices.Clone(ignore.Repositories),
	}
	return &ignoreFilter{next: next, ignore: ignore}
}

// Write writes the events that are not ignored to the next sink. It returns
// ErrSinkClosed after Close, even for a block of ignored events only.
func (f *ignoreFilter) Write(events ...Event) error {
	if f.closed.Load() {
		return ErrSinkClosed
	}
	first := 0
	for first < len(events) && !f.ignore.ignores(&events[first]) {
		first++
	}
	if first == len(events) {
		return f.next.Write(events...) // nothing ignored: the block as it came
	}
	kept := append(make([]Event, 0, len(events)-1), events[:first]...)
	for i := first + 1; i < len(events); i++ {
		if !f.ignore.ignores(&events[i]) {
			kept = append(kept, events[i])
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return f.next.Write(kept...)
}

// Close closes the next sink.
func (f *ignoreFilter) Close() error {
	if !f.closed.CompareAndSwap(false, true) {
		return errAlreadyClosed
	}
	return f.next.Close()
}
