package notifications

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// StatusPolicy classifies an HTTP status code as the answer to a delivery.
type StatusPolicy func(code int) Outcome

// DefaultStatusPolicy accepts 2xx and 3xx answers, but for a redirect (301,
// 302, 303, 307, 308) that comes without a Location, which told the
// endpoint nowhere to send the events: it is retried. 400, 410, 413, 415
// and 422, with which a receiver refuses the content itself, are
// rejections; every other status may succeed later and is retried. (The
// endpoint retries a redirect with a Location that it did not follow
// before any policy sees it.)
func DefaultStatusPolicy(code int) Outcome {
	switch {
	case code == http.StatusMovedPermanently, code == http.StatusFound, code == http.StatusSeeOther,
		code == http.StatusTemporaryRedirect, code == http.StatusPermanentRedirect:
		return Retry
	case code >= 200 && code < 400:
		return Accepted
	case code == http.StatusBadRequest, code == http.StatusGone,
		code == http.StatusRequestEntityTooLarge, code == http.StatusUnsupportedMediaType,
		code == http.StatusUnprocessableEntity:
		return Reject
	}
	return Retry
}

const (
	// maxRedirects is how many same-origin redirects one POST may follow.
	maxRedirects = 5

	// maxRetryAfter caps the wait a receiver may ask for with Retry-After.
	maxRetryAfter = 5 * time.Minute

	// maxDrain is how much of a response body is read so that the
	// connection can be reused; a longer body is abandoned.
	maxDrain = 64 << 10
)

// httpDeliverer POSTs each batch as one request body, in the endpoint's
// encoding, to a URL. It is an Encoder: each batch is encoded once, for
// all its attempts, into a buffer recycled once its requests are done.
type httpDeliverer struct {
	url       string
	urlErr    error // why url cannot be used; nil when it can
	headers   http.Header
	timeout   time.Duration
	policy    StatusPolicy
	encoding  bodyEncoding
	transport *http.Transport
	client    *http.Client
	signer    *signer            // nil: requests are not signed
	log       logrus.FieldLogger // the endpoint's logger

	bodies bodyPool

	// statuses caches the metrics key of each status code seen.
	statuses map[int]string
}

var _ JSONEncoder = (*httpDeliverer)(nil)

// bodyEncoding is how an HTTP endpoint writes a batch as a request body.
// Every body an endpoint sends goes through its encoding.
type bodyEncoding struct {
	// contentType is the request's Content-Type.
	contentType string

	// singleContentType, when set, is the Content-Type of a batch of one
	// event, which appendBody writes differently (a structured CloudEvent).
	singleContentType string

	// appendBody appends the body of events to dst.
	appendBody func(dst []byte, events []Event) ([]byte, error)

	// appendJSON appends the body of events whose JSON objects are
	// eventJSON (see EncodeEvents) to dst: what appendBody writes, by
	// splicing eventJSON.
	appendJSON func(dst []byte, events []Event, eventJSON [][]byte) ([]byte, error)

	// overhead is the size of a body without events, and eventSize the
	// bytes one more event adds to it, separator included, given the
	// length of its JSON object: the queue sums them to keep each body
	// within its body limit (see envelopeFit.bodyLimit). The sum may exceed
	// the body's size by a few bytes, never fall short of it.
	overhead  int
	eventSize func(e *Event, jsonLen int) int

	// spliced says that a body appendJSON writes is the envelope of the
	// events' JSON objects, which a splicedReader reads without building
	// it, and that eventSize does not read the event.
	spliced bool
}

// contentTypeFor returns the Content-Type of a batch of n events.
func (e bodyEncoding) contentTypeFor(n int) string {
	if n == 1 && e.singleContentType != "" {
		return e.singleContentType
	}
	return e.contentType
}

// envelopeEncoding is the original package's: one Envelope, as JSON.
var envelopeEncoding = bodyEncoding{
	contentType: EventsMediaType,
	appendBody:  appendEnvelope,
	appendJSON: func(dst []byte, _ []Event, eventJSON [][]byte) ([]byte, error) {
		return appendEnvelopeJSON(dst, eventJSON), nil
	},
	overhead:  len(envelopePrefix) + len(envelopeSuffix),
	eventSize: func(_ *Event, jsonLen int) int { return jsonLen + len(",") },
	spliced:   true,
}

// bodySize returns the size of the body of events, in e, at most: when
// eventJSON is nil the events' JSON is measured. events may be nil when e
// is spliced: eventJSON alone is measured.
func (e bodyEncoding) bodySize(events []Event, eventJSON [][]byte) int {
	size := e.overhead
	if events == nil && e.spliced {
		for _, j := range eventJSON {
			size += e.eventSize(nil, len(j))
		}
		return size
	}
	for i := range events {
		var n int
		if eventJSON != nil {
			n = len(eventJSON[i])
		} else {
			n = eventJSONSize(&events[i])
		}
		size += e.eventSize(&events[i], n)
	}
	return size
}

// measures reports whether sizing the body of blocks, held in memory,
// would measure their events' JSON, which costs about as much as encoding
// them: some block is without its events' JSON, or the encoding does not
// splice it.
func (e bodyEncoding) measures(blocks []queuedBlock) bool {
	measures := !e.spliced
	for i := range blocks {
		b := &blocks[i]
		if b.events == nil {
			return false
		}
		measures = measures || b.json == nil || len(b.json.objects) != len(b.events)
	}
	return measures
}

// errNotAccepted is the error of an answer whose status is not accepted;
// the status itself is in the Delivery.
var errNotAccepted = errors.New("answer not accepted")

// errNoAnswer is what the error of an attempt that got no answer within
// the endpoint's Timeout is (errors.Is), its message the cause's: the queue
// sends a batch of several events again in smaller parts (see
// envelopeFit.unanswered). An attempt that timed out before it had a
// connection (a dial, a TLS handshake or a wait for a free connection that
// did not end in time) is not one: the receiver never saw the batch, so its
// size was not why no answer came. (Through a proxy, "a connection" is the
// proxy's; over HTTP/2 it is had before a stream is free.)
var errNoAnswer = errors.New("no answer within the timeout")

// noAnswer is the error of an attempt that got no answer in time.
type noAnswer struct{ error }

func (e noAnswer) Is(target error) bool { return target == errNoAnswer }
func (e noAnswer) Unwrap() error        { return e.error }

// errBodyTooLarge is the error of a 413 Content Too Large answer that the
// status policy refuses: the queue splits such a batch without suspecting
// an event, and learns the receiver's limit (see learnBodyLimit).
var errBodyTooLarge = errors.New("answer not accepted: body too large")

// newHTTPDeliverer returns the deliverer of an endpoint; config has its
// defaults applied and its Logger names the endpoint.
func newHTTPDeliverer(endpointURL string, config EndpointConfig) *httpDeliverer {
	transport := endpointTransport(config)
	policy := config.StatusPolicy
	if policy == nil {
		policy = DefaultStatusPolicy
	}
	return &httpDeliverer{
		url:       endpointURL,
		urlErr:    checkURL(endpointURL),
		headers:   config.Headers.Clone(),
		timeout:   config.Timeout,
		policy:    policy,
		encoding:  config.WireFormat.encoding(),
		transport: transport,
		client:    &http.Client{Transport: transport, CheckRedirect: sameOriginRedirects},
		signer:    newSigner(config.SigningSecrets),
		log:       config.Logger,
	}
}

// newTransport returns the transport an endpoint uses by default: keep-alive
// connections, TLS 1.2 or later, the proxy from the environment.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 8
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.MinVersion = tls.VersionTLS12
	return t
}

// httpBatch is a batch encoded as a request body.
type httpBatch struct {
	events []Event // nil for a batch spliceJSON made
	n      int     // how many events
	body   *bodyBuffer
	pool   *bodyPool
}

// Release gives the body's buffer back once its requests are done.
func (b *httpBatch) Release() {
	if b.body != nil {
		b.pool.release(b.body)
		b.body = nil
	}
}

// Encode writes events as a request body in the endpoint's encoding.
func (h *httpDeliverer) Encode(events []Event) (Encoded, error) {
	body, err := h.bodies.encode(events, h.encoding.appendBody)
	if err != nil {
		return nil, err
	}
	return &httpBatch{events: events, n: len(events), body: body, pool: &h.bodies}, nil
}

// EncodeJSON writes events as a request body in the endpoint's encoding,
// splicing eventJSON, each event's JSON object, instead of encoding them.
func (h *httpDeliverer) EncodeJSON(events []Event, eventJSON [][]byte) (Encoded, error) {
	if len(eventJSON) != len(events) {
		return nil, errors.New("not one JSON object per event")
	}
	if enc, ok := h.spliceJSON(eventJSON, len(events)); ok {
		return enc, nil
	}
	body, err := h.bodies.encode(events, func(dst []byte, events []Event) ([]byte, error) {
		return h.encoding.appendJSON(dst, events, eventJSON)
	})
	if err != nil {
		return nil, err
	}
	return &httpBatch{events: events, n: len(events), body: body, pool: &h.bodies}, nil
}

// spliceJSON makes the batch of the n events whose JSON objects pieces
// holds (see splicer) without the events themselves, when its body needs
// nothing else: an envelope, not signed (a signature covers the event IDs).
func (h *httpDeliverer) spliceJSON(pieces [][]byte, n int) (Encoded, bool) {
	if !h.splices() || len(pieces) == 0 {
		return nil, false
	}
	return &httpBatch{n: n, body: h.bodies.splice(pieces), pool: &h.bodies}, true
}

func (h *httpDeliverer) splices() bool { return h.encoding.spliced && h.signer == nil }

var _ splicer = (*httpDeliverer)(nil)

// Deliver encodes events and POSTs them: for a caller that does not hold
// the batch's encoding.
func (h *httpDeliverer) Deliver(ctx context.Context, events []Event) Delivery {
	enc, err := h.Encode(events)
	if err != nil {
		return Delivery{Outcome: Reject, Err: fmt.Errorf("encoding: %w", err)}
	}
	defer enc.Release()
	return h.DeliverEncoded(ctx, enc)
}

// DeliverEncoded POSTs a batch Encode made and classifies the answer.
func (h *httpDeliverer) DeliverEncoded(ctx context.Context, enc Encoded) Delivery {
	if h.urlErr != nil { // it will not become usable: give the events up
		return Delivery{Outcome: Reject, Err: h.urlErr}
	}
	b, ok := enc.(*httpBatch)
	if !ok || b.body == nil {
		return Delivery{Outcome: Reject, Err: errors.New("batch not encoded by this deliverer")}
	}
	reqCtx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var connected atomic.Bool // the request had a connection: the receiver could see it
	reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	})
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, h.url, nil)
	if err != nil { // an unusable URL will not become usable: give the events up
		return Delivery{Outcome: Reject, Err: errors.New("request cannot be built from the endpoint URL")}
	}
	h.bodies.attach(req, b.body)
	for name, values := range h.headers {
		req.Header[name] = append([]string(nil), values...)
	}
	req.Header.Set("Content-Type", h.encoding.contentTypeFor(b.n))
	if h.signer != nil {
		h.signer.sign(req.Header, b.events, b.body.bytes)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		// The cause without the *url.Error around it, which quotes the URL
		// (and the user name of its userinfo).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if badLocation(err) { // a redirect, whose status the client did not keep
			return h.refusedRedirect("", badLocationReason)
		}
		if errors.Is(reqCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil && connected.Load() {
			err = noAnswer{err}
		}
		return Delivery{Outcome: Retry, Err: err}
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()
	if notFollowed(resp) {
		return h.redirectNotFollowed(resp)
	}

	d := Delivery{Outcome: h.policy(resp.StatusCode), Status: h.statusKey(resp.StatusCode)}
	if d.Outcome != Accepted {
		d.Err = errNotAccepted
		if resp.StatusCode == http.StatusRequestEntityTooLarge && d.Outcome == Reject {
			d.Err = errBodyTooLarge
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			d.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	}
	return d
}

// statusKey returns the metrics key of code, such as "200 OK".
func (h *httpDeliverer) statusKey(code int) string {
	key, ok := h.statuses[code]
	if !ok {
		if h.statuses == nil {
			h.statuses = make(map[int]string)
		}
		key = fmt.Sprintf("%d %s", code, http.StatusText(code))
		h.statuses[code] = key
	}
	return key
}

// Close drops the idle connections of the deliverer's transport.
func (h *httpDeliverer) Close() error {
	h.bodies.reset()
	h.transport.CloseIdleConnections()
	return nil
}

// parseRetryAfter reads a Retry-After value, in seconds or as an HTTP date,
// capped at maxRetryAfter (a number of seconds too large for an int64
// too). It returns 0 for a missing or malformed value.
func parseRetryAfter(value string, now time.Time) time.Duration {
	if value == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if secs <= 0 { // a range error's secs is the int64 nearest the value
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(value); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
