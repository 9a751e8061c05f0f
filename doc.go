// Package notifications turns what happens in a container registry into
// webhooks: every manifest and blob pushed, pulled or deleted becomes an
// Event, delivered as JSON to the endpoints you configure.
//
// It keeps the API of the registry notifications package of 2015 — the same
// names, signatures, JSON and media type (EventsMediaType) — so a registry
// switches by changing one import. Underneath, a registry's events flow
// through a few sinks to one Endpoint per destination:
//
//	Listen(repo, listener) ──► NewBridge ──► Broadcaster ──► Endpoint, one per destination:
//	    Write: ignore, store (memory or on-disk spool) ──► one goroutine: take batch ─► deliver with retry ─► commit
//	                                                                                   └─► Deliverer (HTTP POST)
//
// An Endpoint never blocks its writers on the network. Write stores the
// events and returns; the endpoint's goroutine, the one owner of its
// delivery, takes them in order as batches of whole written blocks, sends
// each batch through its Deliverer until it is accepted (waiting between
// failures as EndpointConfig.BackoffPolicy says; splitting a batch the
// destination refuses, to isolate the refused event), and only then removes
// it from the store. Every event ends one way — delivered, given up for a
// reason found with errors.Is (ErrQueueFull, ErrEventTooOld, ErrRejected,
// ErrCloseTimeout), or ignored — and EndpointConfig.OnFinished hears of
// each (see Finished); given-up events are counted in
// EndpointMetrics.Dropped and handed to EndpointConfig.DeadLetter. With
// EndpointConfig.SpoolDir every pending event stays on disk across crashes
// and restarts. Close delivers what is queued within
// EndpointConfig.CloseTimeout, then cancels the one context that stops the
// request in flight and every wait, and releases every goroutine and
// connection. Failed attempts are logged, rate-limited, with their reason.
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
// the jetstream module); a Deliverer that is also an Encoder encodes each
// batch once, and the next one while the current one is out. Package
// receiver is the other end of the webhook.
package notifications
