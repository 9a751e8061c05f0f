package notifications

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"time"
)

// Endpoint is a reliable, queued, thread-safe sink that notifies an
// external service when events are written. Write queues the events (in
// memory, or in the spool) and returns without waiting for the network; it
// fails only after Close (ErrSinkClosed), past MaxPending (ErrQueueFull) or
// when the spool cannot be written, and in the last two cases the events
// went to the DeadLetter.
//
// Events written to one endpoint are delivered in the order they were
// written. Close stops accepting events, waits until those queued were
// delivered, or for at most CloseTimeout (when it is not negative), and
// releases every goroutine and connection of the endpoint.
type Endpoint struct {
	Sink
	EndpointConfig

	name     string
	url      string
	shownURL string // what expvar publishes: see redactURL
	metrics  *endpointMetrics
}

// ErrInvalidConfig is wrapped by the errors OpenEndpoint returns for a URL or
// configuration it cannot use.
var ErrInvalidConfig = errors.New("notifications: invalid endpoint configuration")

// NewEndpoint returns a running endpoint, ready to receive events. The
// configuration's zero or negative fields take their defaults, visible on the
// returned endpoint's EndpointConfig.
//
// NewEndpoint cannot report errors: a configuration that OpenEndpoint would
// refuse is logged and the endpoint runs with what can be used of it.
func NewEndpoint(name, url string, config EndpointConfig) *Endpoint {
	log := config.withDefaults().Logger.WithField("endpoint", name)
	var leftOut []error
	config.Headers, leftOut = usableHeaders(config.Headers) // else every request would fail
	for _, err := range leftOut {
		log.WithError(err).Error("notifications: endpoint sends without this header")
	}
	if err := validateEndpoint(name, url, config); err != nil { // the headers left out logged once, above
		log.WithError(err).Error("notifications: endpoint configuration")
	}
	config = config.withDefaults()
	e, err := newEndpoint(name, url, config, httpDelivererTo(url))
	if err != nil {
		log.WithError(err).Error("notifications: endpoint runs without its spool")
		config.SpoolDir = ""
		e, _ = newEndpoint(name, url, config, httpDelivererTo(url))
	}
	return e
}

// OpenEndpoint returns a running endpoint that POSTs events to url, or an
// error wrapping ErrInvalidConfig when url can never be dialled (not an
// absolute http or https URL with a host name and a port from 1 to 65535;
// an IP address BlockPrivateNetworks refuses, then wrapping
// ErrBlockedAddress too), has an '@' after its host (where a password with
// an unescaped '#', '/' or '?' would put it), or the configuration is not
// usable. The error never quotes the URL. Zero fields take their defaults.
func OpenEndpoint(name, url string, config EndpointConfig) (*Endpoint, error) {
	if err := validateEndpoint(name, url, config); err != nil {
		return nil, err
	}
	return newEndpoint(name, url, config.withDefaults(), httpDelivererTo(url))
}

// httpDelivererTo returns the constructor of the deliverer of an HTTP
// endpoint to url.
func httpDelivererTo(url string) func(EndpointConfig) Deliverer {
	return func(config EndpointConfig) Deliverer { return newHTTPDeliverer(url, config) }
}

// NewDelivererEndpoint returns a running endpoint that hands its batches to
// d instead of POSTing them: queueing, retries, metrics and expvar behave as
// for an HTTP endpoint. target names the destination in metrics, logs and
// expvar (it is what URL returns). The endpoint closes d when it is closed.
func NewDelivererEndpoint(name, target string, d Deliverer, config EndpointConfig) (*Endpoint, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: endpoint %q: nil Deliverer", ErrInvalidConfig, name)
	}
	if err := validateConfig(name, config); err != nil {
		return nil, err
	}
	return newEndpoint(name, target, config.withDefaults(), func(EndpointConfig) Deliverer { return d })
}

// validateEndpoint checks what OpenEndpoint needs of an HTTP endpoint.
func validateEndpoint(name, endpointURL string, config EndpointConfig) error {
	for _, err := range []error{ // the first that fails is reported
		checkURL(endpointURL),
		checkTransport(config),
		checkHeaders(config.Headers),
		checkTLSVersions(endpointURL, config.Transport),
	} {
		if err != nil {
			return fmt.Errorf("%w: endpoint %q: %w", ErrInvalidConfig, name, err)
		}
	}
	if config.BlockPrivateNetworks {
		// An IP address the guard refuses will never be dialled; a name
		// is checked at each connection, once resolved.
		u, _ := url.Parse(endpointURL)
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
			if reason := blockedReason(ip); reason != "" {
				return fmt.Errorf("%w: endpoint %q: %w: %s is %s", ErrInvalidConfig, name, ErrBlockedAddress, ip, reason)
			}
		}
	}
	return validateConfig(name, config)
}

// validateConfig checks the fields that have no meaning when negative, and
// the signing secrets.
func validateConfig(name string, config EndpointConfig) error {
	for _, f := range []struct {
		field string
		value int64
	}{
		{"Threshold", int64(config.Threshold)},
		{"MaxPending", int64(config.MaxPending)},
		{"MaxBatch", int64(config.MaxBatch)},
		{"MaxBackoff", int64(config.MaxBackoff)},
		{"MaxEventAge", int64(config.MaxEventAge)},
		{"SpoolSync", int64(config.SpoolSync)},
	} {
		if f.value < 0 {
			return fmt.Errorf("%w: endpoint %q: negative %s", ErrInvalidConfig, name, f.field)
		}
	}
	if err := validateSigningSecrets(name, config.SigningSecrets); err != nil {
		return err
	}
	if !config.WireFormat.valid() {
		return fmt.Errorf("%w: endpoint %q: unknown WireFormat %q", ErrInvalidConfig, name, config.WireFormat)
	}
	return config.Ignore.validate(name)
}

// newEndpoint opens the endpoint's store, makes its deliverer with
// newDeliverer, starts its queue and publishes the endpoint. It fails only
// when the spool cannot be opened; then the deliverer is closed.
func newEndpoint(name, url string, config EndpointConfig, newDeliverer func(EndpointConfig) Deliverer) (*Endpoint, error) {
	config.Headers = config.Headers.Clone()
	config.SigningSecrets = append([]string(nil), config.SigningSecrets...)
	config.Logger = config.Logger.WithField("endpoint", name)
	d := newDeliverer(config)
	_, webhook := d.(*httpDeliverer)
	e := &Endpoint{EndpointConfig: config, name: name, url: url, shownURL: redactURL(url, webhook), metrics: newEndpointMetrics()}
	out := &outcomes{
		endpoint:   name,
		metrics:    e.metrics,
		dropLog:    newRateLimitedLog(config.Logger, time.Second),
		deadLetter: config.DeadLetter,
		onFinished: config.OnFinished,
		log:        config.Logger,
	}
	var store eventStore = &memoryStore{}
	if config.SpoolDir != "" {
		spool, err := openSpool(config.SpoolDir, name, config.SpoolSync, config.Logger)
		if err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("notifications: endpoint %q: %w", name, err)
		}
		// Events read back from the disk may share the spool's read
		// memory when nothing but the queue sees them: no OnFinished nor
		// DeadLetter to keep them, and our own deliverer, which keeps
		// nothing of a batch once it is released.
		spool.lend = webhook && !out.readsEvents()
		store = spool
	}
	e.Sink = newEventQueue(name, d, store, config, e.metrics, out)
	register(e)
	return e, nil
}

var _ EncodedSink = (*Endpoint)(nil)

// WriteEncoded is Write for events whose JSON objects are eventJSON (see
// EncodedSink): the endpoint keeps those bytes (in memory, instead of the
// events when it splices them into envelopes and nothing reads the
// events' values: no OnFinished, DeadLetter, MaxEventAge or signing),
// stores them as they are in its spool, and sends them without encoding
// the events again. An endpoint whose Sink was replaced by one that is not
// an EncodedSink writes the events alone.
func (e *Endpoint) WriteEncoded(events []Event, eventJSON [][]byte) error {
	if s, ok := e.Sink.(EncodedSink); ok {
		return s.WriteEncoded(events, eventJSON)
	}
	return e.Sink.Write(events...)
}

// writeEncodedAt is WriteEncoded for events written at at (see
// stampedSink).
func (e *Endpoint) writeEncodedAt(events []Event, js *blockJSON, at stamp) error {
	if q, ok := e.Sink.(*eventQueue); ok {
		return q.writeEncodedAt(events, js, at)
	}
	return e.WriteEncoded(events, js.eventJSON())
}

// usesJSON reports whether the endpoint sends or stores what WriteEncoded
// gives it (see Broadcaster).
func (e *Endpoint) usesJSON() bool {
	q, ok := e.Sink.(*eventQueue)
	return ok && (q.jsonEncoder != nil || q.store.durable())
}

// Name returns the name of the endpoint, generally used for debugging.
func (e *Endpoint) Name() string { return e.name }

// URL returns the url of the endpoint, as configured: with its user name and
// password, if any. expvar shows it without them, and an HTTP endpoint's
// without its path and query (see redactURL).
func (e *Endpoint) URL() string { return e.url }

// redactURL returns url as expvar publishes it: without its user name and
// password, however malformed it is (RedactURL), and, for a webhook, with
// its path and query, when it has more than "/", replaced by "/xxxxx": the
// webhooks of Slack, Discord and Teams carry their secret in the path, an
// Azure Function's in the query, and none can move it to a header. The
// target of a Deliverer of the caller's is shown as it was given.
func redactURL(url string, webhook bool) string {
	if webhook {
		return withoutPath(RedactURL(url))
	}
	return RedactURL(url)
}

// Pending returns the events the endpoint holds (written and not yet taken
// off its queue or spool), as EndpointMetrics.Pending, without copying the
// rest of the metrics: one atomic read. The events of a batch leave
// together, once every one of them is finished: a batch split after a
// refusal counts in Pending, whole, until its last part is.
func (e *Endpoint) Pending() int { return int(e.metrics.pending.Load()) }

// ReadMetrics populates em with metrics from the endpoint. em gets a
// Statuses map of its own.
func (e *Endpoint) ReadMetrics(em *EndpointMetrics) { e.metrics.read(em) }

// Close stops accepting events, waits until every queued event was
// delivered or CloseTimeout has passed, and releases the endpoint's
// goroutine, connections and spool. It also waits, without a limit, for
// the Writes it met in progress to store their events or finish reporting
// them (OnFinished, DeadLetter, the log), so that no report of a Write
// follows it. It returns nil when everything was
// delivered; an *UndeliveredError when time ran out, saying how many events
// were left and whether they stay in the spool. A second Close returns an
// error wrapping ErrSinkClosed.
func (e *Endpoint) Close() error {
	err := e.Sink.Close()
	if errors.Is(err, errAlreadyClosed) {
		return err
	}
	unregister(e)
	return err
}
