// Package notifications turns what happens in a container registry into
// webhooks: every manifest and blob pushed, pulled or deleted becomes an
// Event, delivered as JSON to the endpoints you configure.
//
// It keeps the API of the registry notifications package of 2015 — the same
// names, signatures, JSON and media type (EventsMediaType) — so a registry
// switches by changing one import. Underneath, every stage is a Sink that
// owns one concern and wraps the next:
//
//	Listen(repo, listener) ──► NewBridge ──► Broadcaster ──► Endpoint, one per destination:
//	    ignore filter ─► queue (memory or on-disk spool) ─► retrying sink ─► delivery sink ─► Deliverer (HTTP POST)
//
// An Endpoint never blocks its writers on the network. It delivers each
// endpoint's events in order, in batches of whole written blocks, retries
// as its BackoffPolicy says, gives up only what its configuration allows
// (counted in EndpointMetrics.Dropped and handed to EndpointConfig.DeadLetter),
// and with EndpointConfig.SpoolDir keeps every pending event on disk across
// crashes and restarts. Close delivers what is queued within
// EndpointConfig.CloseTimeout and releases every goroutine and connection.
// Header values and signing secrets never appear in logs, errors or expvar.
//
// A registry wires it like this:
//
//	endpoint, err := notifications.OpenEndpoint("ci", "https://ci.example/hooks", notifications.EndpointConfig{
//		Headers: http.Header{"Authorization": {"Bearer <token>"}},
//	})
//	if err != nil {
//		return err
//	}
//	sink := notifications.NewBroadcaster(endpoint)
//	defer sink.Close()
//	listener := notifications.NewBridge(urls, source, actor, notifications.NewRequestRecord(id, r), sink)
//	repo = notifications.Listen(repo, listener)
//
// Other destinations plug in as a Deliverer through NewDelivererEndpoint (see
// the jetstream module); package receiver is the other end of the webhook.
package notifications
