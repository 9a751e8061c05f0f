// Package receiver is the receiving end of registry webhooks: an
// http.Handler that checks the media type, the size and the Standard Webhooks
// signature of each request, decodes its events (an envelope of any
// registry, v1 or v2 media type, or CloudEvents in batched, structured or
// binary mode; see Decode) and passes the events it has not handled before
// to a function of the application.
//
//	h := receiver.New(receiver.Config{Secrets: []string{secret}},
//		func(ctx context.Context, events []notifications.Event) error {
//			for _, e := range events {
//				repo := e.Target.Repository // registries; regnotify's default format sends Name
//				if repo == "" {
//					repo = e.Target.Name
//				}
//				log.Printf("%s %s:%s", e.Action, repo, e.Target.Tag)
//			}
//			return nil
//		})
//	http.Handle("/events", h)
package receiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/regnotify/notifications"
	"github.com/sirupsen/logrus"
)

// Defaults applied by New to zero or negative Config fields.
const (
	DefaultTolerance          = 5 * time.Minute
	DefaultMaxBodyBytes int64 = 10 << 20
	DefaultDedupeSize         = 100_000
	DefaultDedupeBytes  int64 = 16 << 20
)

// MaxEventIDBytes is the longest event ID the receiver accepts, in bytes: an
// envelope with a longer one is answered 400. regnotify's IDs are UUIDs of 36
// bytes.
const MaxEventIDBytes = 256

// Config configures a receiver.
type Config struct {
	// Secrets, when not empty, make the receiver require a Standard Webhooks
	// signature by one of them on every request. Each is "whsec_" and the
	// standard base64 of 24 to 64 bytes. Several secrets let a receiver
	// accept old and new keys while they are rotated. Empty: requests are
	// not authenticated.
	Secrets []string

	// Tolerance is how far webhook-timestamp may be from the receiver's
	// clock, either way, before a request counts as a replay. Default 5m.
	Tolerance time.Duration

	// MaxBodyBytes is the largest body accepted; the receiver reads no
	// further. Default 10 MiB.
	MaxBodyBytes int64

	// DedupeSize is how many handled event IDs are remembered to suppress
	// events sent again (the oldest are forgotten first). Default 100,000.
	DedupeSize int

	// DedupeBytes bounds the memory of the remembered IDs: each counts its
	// length plus 64 bytes of bookkeeping, and the oldest are forgotten
	// first once their sum would pass it. Default 16 MiB, room for the
	// default DedupeSize of 36-byte IDs.
	DedupeBytes int64

	// Logger receives the handler's log lines: a panic of the application's
	// function, with its value and stack. Default: logrus' standard logger.
	Logger logrus.FieldLogger
}

// ErrInvalidConfig is wrapped by Config.Validate's errors.
var ErrInvalidConfig = errors.New("receiver: invalid configuration")

// Validate reports a configuration New cannot use: a malformed secret,
// named by its index, never by its value.
func (c Config) Validate() error {
	if _, err := NewVerifier(c.Secrets, c.Tolerance); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// withDefaults returns c with its zero or negative fields filled.
func (c Config) withDefaults() Config {
	if c.Tolerance <= 0 {
		c.Tolerance = DefaultTolerance
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.DedupeSize <= 0 {
		c.DedupeSize = DefaultDedupeSize
	}
	if c.DedupeBytes <= 0 {
		c.DedupeBytes = DefaultDedupeBytes
	}
	if c.Logger == nil {
		c.Logger = logrus.StandardLogger()
	}
	return c
}

// New returns a handler for the webhooks of a regnotify endpoint. It calls
// handle with the events of each accepted envelope, in order, leaving out
// those whose IDs it already handled (handle returned nil for them); it is
// not called for an envelope of duplicates only. handle may be called from
// several requests at once, never with the same event ID at the same time.
//
// The answers: 405 to a method other than POST; 415 for a request in no
// dialect Decode accepts (the envelope's media types v1 and v2, CloudEvents
// batched, structured or binary; parameters allowed) or with a
// Content-Encoding (gzip, say: the body is read as it is sent); 413 for a
// body over MaxBodyBytes or of more than MaxEvents events (or when handle
// returned an error wrapping ErrTooManyEvents: it can take no such batch);
// 401 when Secrets are set and the signature headers are missing, malformed
// or wrong, or the timestamp is outside Tolerance; 400 for a body Decode
// refuses (not UTF-8, not JSON of its dialect, no events, an event without
// an ID or with one longer than MaxEventIDBytes, a timestamp JSON cannot
// hold, a CloudEvent without id,
// source, type or specversion 1.0); 503 when handle returned an error, or
// when another request is handling some of the same events, so that the
// sender retries; 500 when handle panicked (logged to Config.Logger with its
// stack); 200 otherwise. Every error answer has a short plain-text reason.
// However a request ends, the IDs it claimed are free again unless handle
// returned nil for them, so a retry is handled.
//
// A configuration Validate refuses makes every answer 500: the handler
// never accepts a request unsigned because a secret was malformed. New
// panics if handle is nil.
func New(cfg Config, handle func(ctx context.Context, events []notifications.Event) error) http.Handler {
	if handle == nil {
		panic("receiver: New with a nil handle func")
	}
	cfg = cfg.withDefaults()
	h := &handler{cfg: cfg, handle: handle, seen: newIDSet(cfg.DedupeSize, cfg.DedupeBytes), now: time.Now}
	h.verifier, h.misconfigured = NewVerifier(cfg.Secrets, cfg.Tolerance)
	return h
}

// handler is the http.Handler New returns.
type handler struct {
	cfg           Config
	verifier      *Verifier // nil when no secrets are configured
	misconfigured error
	handle        func(ctx context.Context, events []notifications.Event) error
	seen          *idSet
	now           func() time.Time
}

var _ http.Handler = (*handler)(nil)

// reject answers code with a one-line plain-text reason.
func reject(w http.ResponseWriter, code int, reason string) {
	http.Error(w, reason, code)
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.misconfigured != nil {
		reject(w, http.StatusInternalServerError, "receiver misconfigured")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reject(w, http.StatusMethodNotAllowed, "method not allowed: POST events")
		return
	}
	dialect, err := dialectOf(r.Header)
	if err != nil {
		reject(w, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		reject(w, http.StatusUnsupportedMediaType, "content encoding not supported: send the body as it is")
		return
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		reject(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", h.cfg.MaxBodyBytes))
		return
	}
	now := h.now()
	if h.verifier != nil {
		if err := h.verifier.checkHeaders(r.Header, now); err != nil { // before reading the body
			reject(w, http.StatusUnauthorized, err.Error())
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			reject(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", h.cfg.MaxBodyBytes))
			return
		}
		reject(w, http.StatusBadRequest, "cannot read body")
		return
	}
	if h.verifier != nil {
		if err := h.verifier.Verify(r.Header, body, now); err != nil {
			reject(w, http.StatusUnauthorized, err.Error())
			return
		}
	}
	events, err := dialect.decode(r.Header, body)
	if errors.Is(err, ErrTooManyEvents) {
		reject(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	if err != nil {
		reject(w, http.StatusBadRequest, err.Error())
		return
	}
	fresh, busy := h.seen.claim(events)
	if busy {
		w.Header().Set("Retry-After", "1")
		reject(w, http.StatusServiceUnavailable, "events of this envelope are being handled by another request")
		return
	}
	if len(fresh) > 0 {
		if err := h.handleClaimed(r.Context(), fresh); err != nil {
			if errors.Is(err, ErrTooManyEvents) {
				reject(w, http.StatusRequestEntityTooLarge, "too many events in one request, send fewer")
				return
			}
			if errors.Is(err, errPanicked) {
				reject(w, http.StatusInternalServerError, "events not handled, send them again later")
				return
			}
			reject(w, http.StatusServiceUnavailable, "events not handled, send them again later")
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "accepted %d events, %d already handled\n", len(fresh), len(events)-len(fresh))
}

// errPanicked is returned by handleClaimed when the application's function
// panicked.
var errPanicked = errors.New("receiver: handle func panicked")

// handleClaimed passes fresh, whose IDs claim marked in flight, to the
// application's function, and clears the mark on every way out: committed
// when the function returned nil, released otherwise, so that the sender's
// retry is handled. A panic is logged with its stack and returned as
// errPanicked; http.ErrAbortHandler is panicked again after the release, as
// net/http expects.
func (h *handler) handleClaimed(ctx context.Context, fresh []notifications.Event) (err error) {
	committed := false
	defer func() {
		if committed {
			return
		}
		h.seen.release(fresh)
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler { // compared as net/http does
			panic(p)
		}
		h.cfg.Logger.WithFields(logrus.Fields{"panic": fmt.Sprint(p), "events": len(fresh), "stack": string(debug.Stack())}).
			Error("receiver: the handle func panicked; events not handled, answered 500")
		err = errPanicked
	}()
	if err := h.handle(ctx, fresh); err != nil {
		return err
	}
	h.seen.commit(fresh)
	committed = true
	return nil
}
