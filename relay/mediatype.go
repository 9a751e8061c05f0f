package relay

import "github.com/regnotify/notifications"

// mediaType returns the target media type of e, which IgnoredMediaTypes
// match.
func mediaType(e *notifications.Event) string {
	return e.Target.MediaType
}
