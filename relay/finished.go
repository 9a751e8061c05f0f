package relay

import (
	"errors"

	"github.com/regnotify/notifications"
)

// Finished takes an endpoint's report that it has finished with events
// (EndpointConfig.OnFinished). Events delivered, ignored, or given up for
// good (too old, refused by the destination) count as done for that
// endpoint; events given up because its queue was full or it was closing
// ask for a retry: the source is to send them again.
func (t *Tracker) Finished(f notifications.Finished) {
	ids := make([]string, len(f.Events))
	for i, e := range f.Events {
		ids[i] = e.ID
	}
	t.finish(ids, retryable(f.Err))
}

// retryable reports whether events given up with err may be delivered by
// another attempt.
func retryable(err error) bool {
	return errors.Is(err, notifications.ErrQueueFull) || errors.Is(err, notifications.ErrCloseTimeout) ||
		errors.Is(err, notifications.ErrSinkClosed)
}
