package relay

import (
	"errors"

	"github.com/regnotify/notifications"
)

// Finished takes an endpoint's report that it has finished with events
// (install it as EndpointConfig.OnFinished). Events delivered or ignored,
// and events given up for good (older than MaxEventAge, or refused by the
// destination: they went to the dead letter sink), count as done for that
// endpoint. Events given up for any other reason (its queue was full, it
// was closing) ask for a retry: the source is to send them again.
func (t *Tracker) Finished(f notifications.Finished) {
	t.finish(eventIDs(f.Events), f.Err != nil && !permanent(f.Err))
}

// permanent reports whether events given up with err would be given up
// again by another attempt.
func permanent(err error) bool {
	return errors.Is(err, notifications.ErrEventTooOld) || errors.Is(err, notifications.ErrRejected)
}
