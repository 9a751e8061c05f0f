package notifications

import (
	"fmt"
	"path"
	"slices"
)

// IgnoreConfig lists the events an endpoint is not sent. An event matching
// any of the lists is ignored; each list works on its own, and an empty list
// matches nothing.
type IgnoreConfig struct {
	// Actions are event actions, such as EventActionPull, compared exactly.
	Actions []string

	// TargetTypes are target types, such as EventTargetTypeBlob, compared
	// exactly with the target's kind (CloudEventKind): Target.Type when
	// set; for the released formats, which have no type, the kind its
	// media type or URL says, so that a blob is a blob from any registry.
	// A deletion released registries report by digest alone is of kind
	// CloudEventKindContent (neither "blob" nor "manifest"): list it to
	// ignore those too.
	TargetTypes []string

	// Repositories are path.Match patterns, such as "library/*" or
	// "scratch", matched against the target's repository name:
	// Target.Repository (the released formats) and Target.Name (the 2015
	// format), whichever the event has. OpenEndpoint refuses a malformed
	// pattern; NewEndpoint logs it, and it matches nothing.
	Repositories []string

	// MediaTypes are target media types, such as
	// "application/octet-stream", compared exactly (distribution's
	// ignoredmediatypes).
	MediaTypes []string
}

// empty reports whether c ignores nothing.
func (c IgnoreConfig) empty() bool {
	return len(c.Actions) == 0 && len(c.TargetTypes) == 0 && len(c.Repositories) == 0 && len(c.MediaTypes) == 0
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

// Ignores reports whether c keeps e from the endpoint: an endpoint never
// queues, sends nor counts as pending an event its Ignore configuration
// ignores (OnFinished reports it Ignored).
func (c IgnoreConfig) Ignores(e *Event) bool { return c.ignores(e) }

// ignores reports whether c ignores e.
func (c IgnoreConfig) ignores(e *Event) bool {
	if slices.Contains(c.Actions, e.Action) || slices.Contains(c.MediaTypes, e.Target.MediaType) {
		return true
	}
	if len(c.TargetTypes) > 0 && slices.Contains(c.TargetTypes, CloudEventKind(e)) {
		return true
	}
	for _, pattern := range c.Repositories {
		if repositoryMatches(pattern, e.Target.Repository) || repositoryMatches(pattern, e.Target.Name) {
			return true
		}
	}
	return false
}

// repositoryMatches reports whether repository, when there is one, matches
// pattern (a malformed pattern matches nothing).
func repositoryMatches(pattern, repository string) bool {
	if repository == "" {
		return false
	}
	ok, err := path.Match(pattern, repository)
	return ok && err == nil
}

// clone returns c with lists of its own.
func (c IgnoreConfig) clone() IgnoreConfig {
	return IgnoreConfig{
		Actions:      slices.Clone(c.Actions),
		TargetTypes:  slices.Clone(c.TargetTypes),
		Repositories: slices.Clone(c.Repositories),
		MediaTypes:   slices.Clone(c.MediaTypes),
	}
}

// split returns the events of the block c does not ignore and those it
// ignores, each in order. When it ignores none, kept is events itself; the
// caller's slice is never modified.
func (c IgnoreConfig) split(events []Event) (kept, ignored []Event) {
	kept, _, ignored = c.splitEncoded(events, nil)
	return kept, ignored
}

// splitEncoded is split for events whose JSON objects are eventJSON (or
// nil, when unknown): it also returns the JSON of the events kept (nil
// with eventJSON nil), in one pass.
func (c IgnoreConfig) splitEncoded(events []Event, eventJSON [][]byte) (kept []Event, keptJSON [][]byte, ignored []Event) {
	if c.empty() {
		return events, eventJSON, nil
	}
	first := 0
	for first < len(events) && !c.ignores(&events[first]) {
		first++
	}
	if first == len(events) {
		return events, eventJSON, nil // nothing ignored: the block as it came
	}
	kept = append(make([]Event, 0, len(events)-1), events[:first]...)
	if eventJSON != nil {
		keptJSON = append(make([][]byte, 0, len(events)-1), eventJSON[:first]...)
	}
	ignored = []Event{events[first]}
	for i := first + 1; i < len(events); i++ {
		if c.ignores(&events[i]) {
			ignored = append(ignored, events[i])
			continue
		}
		kept = append(kept, events[i])
		if eventJSON != nil {
			keptJSON = append(keptJSON, eventJSON[i])
		}
	}
	if cap(kept) > 2*len(kept) { // sized for the kept events, which a queue holds while pending
		kept = slices.Clone(kept) // (a queue copies keptJSON's objects: see eventQueue.write)
	}
	return kept, keptJSON, ignored
}
