package notifications

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults applied by NewEndpoint and OpenEndpoint to zero (and, for the
// first three, negative) EndpointConfig fields.
const (
	DefaultTimeout      = time.Second
	DefaultThreshold    = 10
	DefaultBackoff      = time.Second
	DefaultCloseTimeout = 5 * time.Second
	DefaultSpoolSync    = time.Second
	DefaultMaxBatch     = 1000
)

// backoffJitter spreads every wait between attempts by up to ±20%.
const backoffJitter = 0.2

// EndpointConfig covers the optional configuration parameters for an active
// endpoint.
type EndpointConfig struct {
	// Headers are added to every request. Every value of a multi-valued
	// header is sent. Values are never published or logged. A header
	// net/http refuses to send (a name that is not an HTTP token, a value
	// with a control character other than a tab, or a Connection, Upgrade
	// or Transfer-Encoding that HTTP/2 refuses) makes OpenEndpoint fail;
	// with NewEndpoint, such a header is logged and left out.
	Headers http.Header

	// Timeout bounds each request, from dialling to the end of the answer.
	// A batch of several events that gets no answer within it is sent
	// again in parts of half its size, and later batches take as few
	// events until answers come fast again; one that timed out before it
	// had a connection (dialling an unreachable host) is sent again whole.
	// Default 1s.
	Timeout time.Duration

	// Threshold is how many failed attempts in a row it takes before the
	// endpoint waits Backoff between them: the first Threshold-1 failures
	// are retried at once (an answer that accepts or refuses resets the
	// count); also how often one event alone may be refused before it is
	// given up. Default 10.
	Threshold int

	// Backoff is the wait between attempts once Threshold consecutive
	// failures were reached. Default 1s. Every wait is spread by ±20% at
	// random, so that a fleet of registries does not retry in lockstep.
	Backoff time.Duration

	// MaxBackoff, when larger than Backoff, makes the wait double after each
	// further failure, from Backoff up to MaxBackoff. Zero keeps the fixed
	// Backoff interval.
	MaxBackoff time.Duration

	// MaxEventAge gives up, instead of retrying, events whose Timestamp is
	// older than this. Zero means no limit. An event without a Timestamp
	// (the zero time) never expires.
	MaxEventAge time.Duration

	// MaxBatch is the most events sent in one envelope when several
	// written blocks are waiting: they go out together, whole and in order,
	// in at most 1 MiB of request body, in either WireFormat (a block
	// larger than that goes alone), or less once the receiver answered 413
	// to a body of several events and took both its halves: within half
	// that body's size from then on. An idle endpoint sends a lone block at
	// once.
	// 1 sends each written block alone, as the original package did.
	// Default 1000.
	MaxBatch int

	// MaxPending is the most events the endpoint holds, in memory or in its
	// spool; past it, Write gives the block up (to the DeadLetter) and
	// returns an error wrapping ErrQueueFull. Zero means no limit.
	MaxPending int

	// CloseTimeout is how long Close keeps delivering before it cancels the
	// request in flight and returns. Zero means 5s; negative means Close
	// waits until everything is delivered, as the original package did.
	CloseTimeout time.Duration

	// SpoolDir, when set, keeps every pending event on disk, in
	// SpoolDir/<endpoint name, escaped>/, until it was delivered or given
	// up: a new endpoint with the same name and directory delivers what a
	// previous one left, crash or restart, before new events. An event whose
	// Write returned nil has been written to the spool's file (or is
	// ignored), so a crash of the process loses nothing.
	SpoolDir string

	// SpoolSync is the longest time between two fsyncs of the spool: what a
	// power cut can lose is what was written in the last SpoolSync.
	// Default 1s.
	SpoolSync time.Duration

	// DeadLetter receives every event given up (see EndpointMetrics.Dropped),
	// so that nothing vanishes silently. nil: they are logged and counted.
	// It may be written to from a writer's goroutine before Write returns
	// (a Write refused), so it must not close the endpoint, nor a sink
	// (a Broadcaster, a relay) whose Close closes the endpoint.
	DeadLetter Sink `json:"-"`

	// BackoffPolicy, when set, decides how long the endpoint waits before
	// retrying after attempts that failed but may succeed later, instead of
	// Threshold, Backoff and MaxBackoff (Threshold still counts refusals of
	// one event). Default: ThresholdBackoff with Threshold, Backoff,
	// MaxBackoff and a jitter of 0.2.
	BackoffPolicy BackoffPolicy `json:"-"`

	// StatusPolicy, when set, classifies the HTTP status of each answer as
	// accepted, to retry or refused for good. Default: DefaultStatusPolicy.
	// Endpoints made with NewDelivererEndpoint ignore it: their Deliverer
	// classifies its answers.
	StatusPolicy StatusPolicy `json:"-"`

	// OnFinished, when set, is called each time the endpoint has finished
	// with events: delivered (with the attempt count), given up (with the
	// reason), or ignored. Every event written, but for Writes that return
	// ErrSinkClosed and events still in the spool at Close, is finished
	// exactly once; see Finished. It is called from the endpoint's goroutine
	// or, for events Write ignores or gives up at once, from the writer's
	// before Write returns; so it may be called concurrently, and it must
	// not block, nor write to or close the endpoint, nor close a sink whose
	// Close closes the endpoint (Close waits for the Writes' reports).
	OnFinished func(Finished) `json:"-"`

	// SigningSecrets, when not empty, make an HTTP endpoint sign every
	// request the Standard Webhooks way: each POST carries webhook-id (the
	// same for every retry of an envelope), webhook-timestamp (Unix seconds
	// of the attempt) and webhook-signature, one "v1," entry per secret so
	// that receivers can rotate keys. A secret is "whsec_" followed by the
	// standard base64 of 24 to 64 random bytes. OpenEndpoint refuses a
	// malformed secret; NewEndpoint logs it (by index) and signs with the
	// others, or sends unsigned when none is usable. Secrets are never
	// published or logged. NewDelivererEndpoint checks them but does not
	// sign: its Deliverer owns the wire format.
	SigningSecrets []string `json:"-"`

	// Transport, when set, is the HTTP transport the endpoint starts from,
	// for private CAs and client certificates (mTLS). The endpoint sends
	// through a clone of it: the caller's transport is never modified nor
	// used, and closing the endpoint closes the clone's idle connections.
	// Default: keep-alive connections, TLS 1.2 or later, the proxy from the
	// environment. With BlockPrivateNetworks, its dial functions
	// (DialContext, DialTLSContext, Dial, DialTLS) must be nil: the endpoint
	// dials with a net.Dialer whose Control checks each address before it
	// connects; OpenEndpoint refuses a transport that sets one. Endpoints
	// made with NewDelivererEndpoint ignore it.
	Transport *http.Transport `json:"-"`

	// BlockPrivateNetworks, when set, refuses to connect to any address
	// that is not globally reachable according to the IANA IPv4 and IPv6
	// Special-Purpose Address Registries (loopback, private-use,
	// link-local, shared CGNAT, documentation, benchmarking, reserved,
	// unique-local and every other such block), to multicast addresses, to
	// IPv6 space outside 2000::/3, and to the IPv4-mapped, NAT64, 6to4 and
	// Teredo forms of a refused IPv4 address. The address is checked after
	// name resolution and before any packet is sent, so DNS rebinding does
	// not get round it. No proxy is used then: a proxy would connect to an
	// address the check cannot see. Refused attempts count as Errors and
	// their error wraps ErrBlockedAddress. Default false.
	BlockPrivateNetworks bool

	// WireFormat is the wire format of the endpoint's requests:
	// FormatEnvelope (the default; the zero value means it) or
	// FormatCloudEvents. Signing, batching, retries, the spool and metrics
	// work the same in both. The JetStream endpoint honours it too; other
	// Deliverers given to NewDelivererEndpoint own their wire format.
	WireFormat Format

	// Ignore lists the events this endpoint is not sent. Ignored events are
	// not counted in its metrics. Default: none ignored.
	Ignore IgnoreConfig

	// Logger receives the endpoint's log lines, with an "endpoint" field.
	// Default: logrus' standard logger.
	Logger logrus.FieldLogger `json:"-"`
}

// withDefaults returns config with its zero or negative fields filled.
func (config EndpointConfig) withDefaults() EndpointConfig {
	if config.Timeout <= 0 {
		config.Timeout = DefaultTimeout
	}
	if config.Threshold <= 0 {
		config.Threshold = DefaultThreshold
	}
	if config.Backoff <= 0 {
		config.Backoff = DefaultBackoff
	}
	if config.Logger == nil {
		config.Logger = logrus.StandardLogger()
	}
	if config.CloseTimeout == 0 {
		config.CloseTimeout = DefaultCloseTimeout
	}
	if config.SpoolSync <= 0 {
		config.SpoolSync = DefaultSpoolSync
	}
	if config.MaxBatch <= 0 {
		config.MaxBatch = DefaultMaxBatch
	}
	if config.BackoffPolicy == nil {
		config.BackoffPolicy = ThresholdBackoff{Threshold: config.Threshold, Backoff: config.Backoff, MaxBackoff: config.MaxBackoff, Jitter: backoffJitter}
	}
	return config
}

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
	if err := checkURL(endpointURL); err != nil {
		return fmt.Errorf("%w: endpoint %q: %w", ErrInvalidConfig, name, err)
	}
	if err := checkTransport(config); err != nil {
		return fmt.Errorf("%w: endpoint %q: %w", ErrInvalidConfig, name, err)
	}
	if err := checkHeaders(config.Headers); err != nil {
		return fmt.Errorf("%w: endpoint %q: %w", ErrInvalidConfig, name, err)
	}
	if err := checkTLSVersions(endpointURL, config.Transport); err != nil {
		return fmt.Errorf("%w: endpoint %q: %w", ErrInvalidConfig, name, err)
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
		_, own := d.(*httpDeliverer)
		spool.lend = own && config.OnFinished == nil && config.DeadLetter == nil
		store = spool
	}
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
	e.Sink = newEventQueue(name, d, store, config, e.metrics, out)
	register(e)
	return e, nil
}

var _ EncodedSink = (*Endpoint)(nil)

// WriteEncoded is Write for events whose JSON objects are eventJSON (see
// EncodedSink): the endpoint keeps those bytes, stores them as they are in
// its spool, and sends them without encoding the events again. An
// endpoint whose Sink was replaced by one that is not an EncodedSink
// writes the events alone.
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
