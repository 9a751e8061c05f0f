package notifications

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults applied by NewEndpoint to zero or negative EndpointConfig fields.
const (
	DefaultTimeout   = time.Second
	DefaultThreshold = 10
	DefaultBackoff   = time.Second
)

// EndpointConfig covers the optional configuration parameters for an active
// endpoint.
type EndpointConfig struct {
	// Headers are added to every request. Every value of a multi-valued
	// header is sent. Values are never published or logged.
	Headers http.Header

	// Timeout bounds each request, from dialling to the end of the answer.
	// Default 1s.
	Timeout time.Duration

	// Threshold is how many consecutive failures are retried at once before
	// the endpoint starts waiting Backoff between attempts. Default 10.
	Threshold int

	// Backoff is the wait between attempts once Threshold consecutive
	// failures were reached. Default 1s.
	Backoff time.Duration

	// Transport, when set, is the HTTP transport the endpoint starts from,
	// for private CAs and client certificates (mTLS). The endpoint sends
	// through a clone of it: the caller's transport is never modified nor
	// used, and closing the endpoint closes the clone's idle connections.
	// Default: keep-alive connections, TLS 1.2 or later, the proxy from the
	// environment. Endpoints made with NewDelivererEndpoint ignore it.
	Transport *http.Transport `json:"-"`

	// BlockPrivateNetworks, when set, refuses to connect to loopback,
	// private, link-local, shared (CGNAT), multicast and unspecified
	// addresses, IPv4-mapped forms included. The address is checked at
	// connect time, after name resolution, so DNS rebinding does not get
	// round it. No proxy is used then: a proxy would connect to an address
	// the check cannot see. Refused attempts count as Errors and their error
	// wraps ErrBlockedAddress. Default false.
	BlockPrivateNetworks bool

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
	return config
}

// Endpoint is a reliable, queued, thread-safe sink that notify external http
// services when events are written. Writes are non-blocking and always
// succeed for callers but events may be queued internally.
//
// Events written to one endpoint are delivered in the order they were
// written. Close stops accepting events, waits until those queued were
// delivered, and releases every goroutine and connection of the endpoint.
type Endpoint struct {
	Sink
	EndpointConfig

	name    string
	url     string
	metrics *endpointMetrics
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
	if err := validateEndpoint(name, url, config); err != nil {
		config.withDefaults().Logger.WithField("endpoint", name).WithError(err).Error("notifications: endpoint configuration")
	}
	config = config.withDefaults()
	return newEndpoint(name, url, config, newHTTPDeliverer(url, config))
}

// OpenEndpoint returns a running endpoint that POSTs events to url, or an
// error wrapping ErrInvalidConfig when url is not an absolute http or https
// URL or the configuration is not usable. Zero fields take their defaults.
func OpenEndpoint(name, url string, config EndpointConfig) (*Endpoint, error) {
	if err := validateEndpoint(name, url, config); err != nil {
		return nil, err
	}
	config = config.withDefaults()
	return newEndpoint(name, url, config, newHTTPDeliverer(url, config)), nil
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
	return newEndpoint(name, target, config.withDefaults(), d), nil
}

// validateEndpoint checks what OpenEndpoint needs of an HTTP endpoint.
func validateEndpoint(name, endpointURL string, config EndpointConfig) error {
	u, err := url.Parse(endpointURL)
	switch {
	case err != nil:
		return fmt.Errorf("%w: endpoint %q: %w", ErrInvalidConfig, name, err)
	case !u.IsAbs() || u.Host == "":
		return fmt.Errorf("%w: endpoint %q: URL %q is not absolute", ErrInvalidConfig, name, u.Redacted())
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: endpoint %q: URL scheme %q is not http or https", ErrInvalidConfig, name, u.Scheme)
	}
	return validateConfig(name, config)
}

// validateConfig checks the fields that have no meaning when negative.
func validateConfig(name string, config EndpointConfig) error {
	if config.Threshold < 0 {
		return fmt.Errorf("%w: endpoint %q: negative Threshold %d", ErrInvalidConfig, name, config.Threshold)
	}
	return config.Ignore.validate(name)
}

// newEndpoint assembles the chain ignore filter → queue → retrying sink →
// delivery sink around d and publishes the endpoint.
func newEndpoint(name, url string, config EndpointConfig, d Deliverer) *Endpoint {
	config.Headers = config.Headers.Clone()
	config.Logger = config.Logger.WithField("endpoint", name)
	e := &Endpoint{EndpointConfig: config, name: name, url: url, metrics: newEndpointMetrics()}
	policy := ThresholdBackoff{Threshold: config.Threshold, Backoff: config.Backoff}
	if l, ok := d.(interface{ setLogger(logrus.FieldLogger) }); ok {
		l.setLogger(config.Logger)
	}
	deliver := newDeliverySink(name, d, e.metrics)
	e.Sink = newIgnoreFilter(newEventQueue(newRetryingSink(deliver, policy), 1, e.metrics, config.Logger), config.Ignore)
	register(e)
	return e
}

// Name returns the name of the endpoint, generally used for debugging.
func (e *Endpoint) Name() string { return e.name }

// URL returns the url of the endpoint.
func (e *Endpoint) URL() string { return e.url }

// ReadMetrics populates em with metrics from the endpoint. em gets a
// Statuses map of its own.
func (e *Endpoint) ReadMetrics(em *EndpointMetrics) { e.metrics.read(em) }

// Close stops accepting events, waits until every queued event was
// delivered, and releases the endpoint's goroutine and connections. A second
// Close returns an error wrapping ErrSinkClosed.
func (e *Endpoint) Close() error {
	err := e.Sink.Close()
	if errors.Is(err, errAlreadyClosed) {
		return err
	}
	unregister(e)
	return err
}
