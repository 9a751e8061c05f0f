// Package relay runs regnotify's endpoints for events that come from
// elsewhere: registries that POST their own notifications (any registry:
// registry:2, distribution v3, or anything that sends registry events), or,
// in fleet mode, a JetStream stream those registries publish into.
//
// A Relay owns a set of endpoints. Write holds a block of events at every
// endpoint that is not set to ignore them, and returns nil only once each
// endpoint's Write returned nil for them: with a spool, the events are in
// its file (in the kernel's page cache, synced to disk within SpoolSync).
// An ingress (the HTTP one of this package, or the JetStream one of the
// jetstream module) answers its sender only after that, so a relay whose
// endpoints have a spool loses nothing it had accepted when its process
// dies (a power cut can take the last SpoolSync; in fleet mode, the stream
// keeps what is not acknowledged); without a spool, what it held in memory
// is lost with the process.
//
//	r, err := relay.New(relay.Config{Targets: []relay.Target{{Endpoint: e}}})
//	...
//	err = r.Run(ctx, &relay.HTTPIngress{Listener: ln}) // until ctx is cancelled; then flushes and closes the endpoints
//
// The regnotify command's relay subcommand builds a Relay from a YAML file
// (package config).
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/internal/httpfield"
	"github.com/regnotify/notifications/receiver"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultStatusInterval = time.Minute
	DefaultDedupeSize     = receiver.DefaultDedupeSize
)

// Target is an endpoint of the relay. The events it is not sent are its
// own IgnoreConfig's (distribution's ignoredmediatypes is
// IgnoreConfig.MediaTypes): it reports them as ignored, which the relay
// counts as done.
type Target struct {
	// Endpoint receives the events. The relay closes it.
	Endpoint *notifications.Endpoint
}

// Config configures a Relay.
type Config struct {
	// Targets are the endpoints events go to. The Relay owns them: Run and
	// Close close them.
	Targets []Target

	// Token, when set, makes the HTTP ingress require the header
	// "Authorization: Bearer <Token>". New refuses one that ends with a
	// space or a tab (which net/http trims from a header) or has a control
	// character but a tab (which no request can carry).
	Token string

	// Secrets, when set, make the HTTP ingress require a Standard Webhooks
	// signature by one of them. New refuses a malformed one (see
	// receiver.Config.Validate).
	Secrets []string

	// MaxBodyBytes bounds a request body of the HTTP ingress. Zero: the
	// receiver package's default, 10 MiB.
	MaxBodyBytes int64

	// DedupeSize is how many event IDs are remembered to drop events a
	// sender sends again, and the events some endpoints took while others
	// refused them, in memory: a restart forgets them. Default 100,000. The
	// memory for them is sized for registries' IDs (UUIDs, 36 bytes):
	// longer ones are remembered fewer.
	DedupeSize int

	// StatusInterval is how often Run logs where each endpoint stands.
	// Default one minute.
	StatusInterval time.Duration

	// Logger receives the relay's log lines. Default: logrus' standard
	// logger.
	Logger logrus.FieldLogger

	// Tracker, when set, lets Deliver report when every target has
	// finished with each event. Its Finished method must be the OnFinished
	// of every target's endpoint.
	Tracker *Tracker
}

// ErrNotHeld is wrapped by Write's error when an endpoint did not take the
// events (it is full, or closed): the sender should send them again.
var ErrNotHeld = errors.New("relay: events not held by every endpoint")

// ErrNoID is wrapped by Write's error for a block with an event without an
// ID: the relay could not tell which targets took it, so none gets it.
var ErrNoID = errors.New("relay: event without an id")

// Relay holds events at its endpoints. It is safe for concurrent use.
type Relay struct {
	cfg     Config
	log     logrus.FieldLogger
	partial *partialSet
	writing []sync.Mutex // per target with a MaxPending: its room checked and taken at once
	handler http.Handler // the HTTP ingress's, made once (see Handler)
	once    sync.Once

	mu      sync.Mutex
	closing bool
	closed  chan struct{}
	err     error
}

// New returns a relay over cfg's targets, or an error when it has none, or
// a Token or Secrets the HTTP ingress could never match (every request
// would be refused). It starts nothing: Run serves the ingresses.
func New(cfg Config) (*Relay, error) {
	if len(cfg.Targets) == 0 {
		return nil, errors.New("relay: no endpoint")
	}
	if !headerCarries(cfg.Token) {
		return nil, errors.New("relay: Token ends with a space or a tab, or has a control character: no Authorization header carries it as it is")
	}
	if err := (receiver.Config{Secrets: cfg.Secrets}).Validate(); err != nil {
		return nil, fmt.Errorf("relay: Secrets: %w", err)
	}
	for i, t := range cfg.Targets {
		if t.Endpoint == nil {
			return nil, fmt.Errorf("relay: target %d has no endpoint", i)
		}
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = DefaultStatusInterval
	}
	if cfg.DedupeSize <= 0 {
		cfg.DedupeSize = DefaultDedupeSize
	}
	if cfg.Logger == nil {
		cfg.Logger = logrus.StandardLogger()
	}
	return &Relay{cfg: cfg, log: cfg.Logger, partial: newPartialSet(cfg.DedupeSize, len(cfg.Targets)),
		writing: make([]sync.Mutex, len(cfg.Targets)), closed: make(chan struct{})}, nil
}

// Write holds events at every target that does not ignore them and returns
// nil once each target's Write returned nil (with a spool: once they are in
// it). Otherwise it returns an error wrapping ErrNotHeld; the targets that
// took the events remember their IDs (up to DedupeSize of them), so that
// when the sender sends the block again only the others get it. A target
// without room for them within its MaxPending is not written to (it would
// give them up, while the sender sends them again); a block larger than a
// target's MaxPending, which it could never hold, is refused before any
// target gets it, with an error wrapping receiver.ErrTooManyEvents (the HTTP
// ingress answers 413: a regnotify sender then sends smaller batches). Write
// never blocks on delivery. Every event needs an ID, by which the targets
// that took it are told apart: a block with an event without one is
// refused before any target gets it, with ErrNoID (the ingresses of this
// module never pass one). Callers must not pass the same event ID in two
// calls at once (the HTTP ingress ensures it).
func (r *Relay) Write(events []notifications.Event) error {
	if len(events) == 0 {
		return nil
	}
	for i := range events {
		if events[i].ID == "" {
			return fmt.Errorf("%w: event %d of %d", ErrNoID, i+1, len(events))
		}
	}
	var failed []error
	took := make([][]notifications.Event, len(r.cfg.Targets)) // what each target took, to remember after a failure
	var eventJSON [][]byte
	if len(r.cfg.Targets) > 1 {
		// Encoded once for every target (a Broadcaster encodes only for
		// two or more sinks that use the JSON; a relay's targets are
		// webhooks from its configuration, which do, and another
		// endpoint only ignores the bytes). On error, nil: each endpoint
		// encodes the events itself.
		eventJSON, _ = notifications.EncodeEvents(events)
	}
	for i, t := range r.cfg.Targets {
		if limit := t.Endpoint.MaxPending; limit > 0 && len(events) > limit && kept(t.Endpoint, r.partial.unheld(events, i)) > limit {
			// Never held, however often sent: the sender must send fewer.
			return fmt.Errorf("%w: endpoint %q holds at most %d events", receiver.ErrTooManyEvents, t.Endpoint.Name(), limit)
		}
	}
	for i, t := range r.cfg.Targets {
		block := r.partial.unheld(events, i)
		if len(block) == 0 {
			continue
		}
		blockJSON := eventJSON
		if len(block) != len(events) {
			blockJSON = nil // a block sent again, to the targets that refused it
		}
		if err := r.writeTarget(i, block, blockJSON); err != nil {
			failed = append(failed, fmt.Errorf("endpoint %q: %w", t.Endpoint.Name(), err))
			continue
		}
		took[i] = block
	}
	if failed != nil {
		for i, block := range took {
			r.partial.mark(block, i)
		}
		err := fmt.Errorf("%w: %w", ErrNotHeld, errors.Join(failed...))
		r.log.WithError(err).WithField("events", len(events)).Warn("relay: events refused; the sender must send them again")
		return err
	}
	r.partial.forget(events)
	return nil
}

// writeTarget writes block, with its JSON when known, to target i when the
// endpoint has room for it within its MaxPending, and returns
// ErrQueueFull otherwise. A Write past MaxPending would give the events up
// (to DeadLetter, counted in Dropped) while the sender, answered 503, sends
// them again: the relay does not write them. The check and the Write are
// made under the target's lock, so that concurrent requests never both
// pass the check (the relay is the only writer of its endpoints).
func (r *Relay) writeTarget(i int, block []notifications.Event, blockJSON [][]byte) error {
	e := r.cfg.Targets[i].Endpoint
	if e.MaxPending > 0 {
		r.writing[i].Lock()
		defer r.writing[i].Unlock()
		if !hasRoom(e, block) {
			return notifications.ErrQueueFull
		}
	}
	return e.WriteEncoded(block, blockJSON)
}

// hasRoom reports whether e, which has a MaxPending, can hold block now: a
// block it ignores whole always fits.
func hasRoom(e *notifications.Endpoint, block []notifications.Event) bool {
	n := kept(e, block)
	return n == 0 || e.Pending()+n <= e.MaxPending
}

// kept returns how many of events e holds when written them: those its
// Ignore configuration does not ignore.
func kept(e *notifications.Endpoint, events []notifications.Event) int {
	n := 0
	for i := range events {
		if !e.Ignore.Ignores(&events[i]) {
			n++
		}
	}
	return n
}

// Ingress brings events into a relay: it calls Relay.Write and answers its
// senders, until ctx is cancelled.
type Ingress interface {
	// Serve runs until ctx is cancelled or it fails. Once it returned, it
	// calls Write no more.
	Serve(ctx context.Context, r *Relay) error
}

// Run serves every ingress and logs where each endpoint stands every
// StatusInterval, until ctx is cancelled or an ingress fails. Then it waits
// for the ingresses to stop, closes every endpoint at once (each within its
// own CloseTimeout; what a spooled endpoint could not deliver stays in its
// spool), closes the ingresses that are io.Closers (after the endpoints,
// so that an ingress can acknowledge what they finished) and returns: nil after a cancellation, otherwise the first
// ingress's error. The endpoints' Close results are logged, not returned.
func (r *Relay) Run(ctx context.Context, ingresses ...Ingress) error {
	r.logTargets()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(ingresses))
	for _, in := range ingresses {
		go func() {
			err := in.Serve(ctx, r)
			if err != nil && ctx.Err() == nil {
				errs <- err
				cancel()
				return
			}
			errs <- nil
		}()
	}
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		r.logStatusEvery(ctx)
	}()
	var first error
	for range ingresses {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if len(ingresses) == 0 {
		<-ctx.Done()
	}
	cancel()
	<-statusDone
	_ = r.Close()
	for _, in := range ingresses {
		if c, ok := in.(io.Closer); ok {
			if err := c.Close(); err != nil {
				r.log.WithError(err).Warn("relay: closing the ingress")
			}
		}
	}
	return first
}

// Close closes every endpoint at once, each within its CloseTimeout, logs
// how each one ended and returns their errors joined. A second Close returns
// the first one's result.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		<-r.closed
		return r.err
	}
	r.closing = true
	r.mu.Unlock()
	r.log.WithField("endpoints", len(r.cfg.Targets)).Info("relay: stopping: delivering what is pending")
	errs := make([]error, len(r.cfg.Targets))
	var wg sync.WaitGroup
	for i, t := range r.cfg.Targets {
		wg.Go(func() {
			errs[i] = t.Endpoint.Close()
			r.logClosed(t.Endpoint, errs[i])
		})
	}
	wg.Wait()
	r.err = errors.Join(errs...)
	close(r.closed)
	return r.err
}

// Stopping reports whether Close has begun.
func (r *Relay) Stopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closing
}

// headerCarries reports whether a request can carry v at the end of a
// header value as it is: no space or tab at its end, which net/http trims,
// and no control character but a tab, which net/http refuses to send.
func headerCarries(v string) bool {
	return !strings.HasSuffix(v, " ") && !strings.HasSuffix(v, "\t") && httpfield.ValidValue(v)
}
