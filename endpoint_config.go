package notifications

import (
	"net/http"
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
