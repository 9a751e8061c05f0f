package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/config"
	"github.com/regnotify/notifications/relay"
)

// fetchWait is how long one pull request waits for messages; a stopping
// ingress returns within it, once the messages of its last pull are
// handed to the relay.
const fetchWait = time.Second

// Defaults applied by OpenIngress to zero IngressConfig fields.
const (
	DefaultAckWait       = 30 * time.Second
	DefaultMaxAckPending = 20_000
	DefaultPullBatch     = 500
	DefaultRetryDelay    = time.Second
)

// MinAckWait is the shortest IngressConfig.AckWait OpenIngress takes: the
// relay tells JetStream every AckWait/3 that it still works on a message.
const MinAckWait = config.MinAckWait

// IngressConfig configures the JetStream ingress of a relay (fleet mode).
type IngressConfig struct {
	// URL lists the NATS servers, separated by commas. Ignored when Conn is
	// set.
	URL string

	// Conn, when set, is used instead of connecting to URL; the caller
	// keeps owning it.
	Conn *nats.Conn

	// Options are applied when connecting to URL (credentials, TLS). A
	// ReconnectErrHandler among them replaces the ingress's own, and its
	// log of an outage then lacks the servers' errors.
	Options []nats.Option

	// Stream is the stream to read. Required.
	Stream string

	// Durable names the consumer. Every relay of a fleet uses the same one,
	// and the stream's messages are shared out among them. Required.
	Durable string

	// FilterSubjects restrict the consumer to these subjects. Default: every
	// subject of the stream.
	FilterSubjects []string

	// AckWait is how long JetStream waits for an ack before it delivers a
	// message again, to any relay of the fleet. It must be longer than
	// delivery usually takes, and at least MinAckWait. Default 30s.
	AckWait time.Duration

	// MaxAckPending bounds the messages delivered and not yet acked, for the
	// whole fleet: it bounds each relay's memory. Default 20,000.
	MaxAckPending int

	// PullBatch is how many messages a relay asks for at a time. Default
	// 500.
	PullBatch int

	// RetryDelay is how long JetStream waits before delivering again a
	// message some endpoint could not take. Default 1s.
	RetryDelay time.Duration

	// Logger receives the ingress's log lines. Default: logrus' standard
	// logger.
	Logger logrus.FieldLogger
}

// Ingress pulls events from a JetStream stream with a durable pull consumer
// and hands them to a relay's Deliver: any number of relays sharing the
// consumer share the work. A message is acked only when every endpoint of
// the relay has delivered its event or given it up for good (dead letter);
// when an endpoint gave it up for a reason another attempt may fix (a full
// queue, Close), it is nak'ed so JetStream delivers it again after
// RetryDelay. While the relay works on a message it tells JetStream so every
// AckWait/3 (InProgress), so that a webhook outage does not move messages
// from relay to relay. A relay that dies holds nothing: it stops telling,
// and JetStream delivers its unacked messages to the others after AckWait.
// The relay keeps no spool in this mode.
//
// Each message is one event, as this module's endpoint publishes it: the
// event's JSON, with its ID (percent-encoded if need be) in Nats-Msg-Id,
// or, from an endpoint with notifications.FormatCloudEvents, a structured
// CloudEvent. A message that is not an event is terminated (never
// delivered again) and logged.
type Ingress struct {
	cfg   IngressConfig
	conn  *nats.Conn
	owned bool
	log   logrus.FieldLogger

	fetchWait time.Duration // how long one pull waits: the constant fetchWait; tests shorten it
	flight    *inFlight

	// counters, for tests and logs
	handled, acked, naked, terminated atomic.Int64

	// connectErr is the latest failed attempt to reach a server, logged
	// while the consumer cannot be created.
	connectErr atomic.Pointer[string]
}

var _ relay.Ingress = (*Ingress)(nil)

// NewIngress opens the ingress a relay configuration's relay.jetstream
// section describes.
func NewIngress(c config.JetStreamIngress, log logrus.FieldLogger) (*Ingress, error) {
	opts, err := connectOptions(c.Credentials, c.TLS)
	if err != nil {
		return nil, fmt.Errorf("relay.jetstream: %w", err)
	}
	return OpenIngress(IngressConfig{
		URL: c.URL, Options: opts, Stream: c.Stream, Durable: c.Durable, FilterSubjects: c.FilterSubjects,
		AckWait: c.AckWait, MaxAckPending: c.MaxAckPending, Logger: log,
	})
}

// OpenIngress checks cfg and connects to NATS (retrying in the background
// while no server answers). It does not touch the stream: Serve does.
func OpenIngress(cfg IngressConfig) (*Ingress, error) {
	if cfg.Stream == "" || cfg.Durable == "" {
		return nil, errors.New("jetstream ingress: Stream and Durable are required")
	}
	// What NATS refuses: the relay would try again every RetryDelay for ever.
	if !validName(cfg.Stream) {
		return nil, errors.New("jetstream ingress: " + nameError("stream", cfg.Stream))
	}
	if !validName(cfg.Durable) {
		return nil, errors.New("jetstream ingress: " + nameError("durable", cfg.Durable))
	}
	for _, subject := range cfg.FilterSubjects {
		if !validFilter(subject) {
			return nil, fmt.Errorf("jetstream ingress: filter subject %q is not valid", subject)
		}
	}
	if cfg.AckWait > 0 && cfg.AckWait < MinAckWait {
		return nil, fmt.Errorf("jetstream ingress: AckWait %s is shorter than %s", cfg.AckWait, MinAckWait)
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.MaxAckPending <= 0 {
		cfg.MaxAckPending = DefaultMaxAckPending
	}
	if cfg.PullBatch <= 0 {
		cfg.PullBatch = DefaultPullBatch
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = logrus.StandardLogger()
	}
	in := &Ingress{cfg: cfg, log: cfg.Logger.WithFields(logrus.Fields{"stream": cfg.Stream, "durable": cfg.Durable}), fetchWait: fetchWait, flight: newInFlight()}
	if cfg.Conn != nil {
		in.conn = cfg.Conn
		return in, nil
	}
	opts := append([]nats.Option{
		nats.Name("regnotify relay"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ErrorHandler(newServerErrors(in.log).record), // not on stderr: in the relay's log
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			msg := err.Error() // a dial's or a server's error: an address, never the URL's credentials
			in.connectErr.Store(&msg)
		}),
	}, cfg.Options...)
	nc, err := Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("jetstream ingress: %w", err)
	}
	in.conn, in.owned = nc, true
	return in, nil
}

// Serve creates the durable consumer (or updates it to this configuration)
// and hands every message to r.Deliver until ctx is cancelled. It retries
// while the stream or the servers are away, and returns an error when the
// connection is closed for good (by NATS, or by its owner before ctx is
// cancelled). r must have a Tracker.
func (in *Ingress) Serve(ctx context.Context, r *relay.Relay) error {
	js, err := natsjs.New(in.conn)
	if err != nil {
		return err
	}
	var cons natsjs.Consumer
	var down outageLog
	for {
		if in.conn.IsClosed() {
			if ctx.Err() != nil {
				return nil
			}
			return in.closedError()
		}
		if !in.conn.IsConnected() { // a request would only time out
			down.log(in)
		} else {
			in.connectErr.Store(nil) // a later outage logs its own
			down = outageLog{}
			cons, err = js.CreateOrUpdateConsumer(ctx, in.cfg.Stream, natsjs.ConsumerConfig{
				Durable:        in.cfg.Durable,
				AckPolicy:      natsjs.AckExplicitPolicy,
				DeliverPolicy:  natsjs.DeliverAllPolicy,
				AckWait:        in.cfg.AckWait,
				MaxAckPending:  in.cfg.MaxAckPending,
				FilterSubjects: in.cfg.FilterSubjects,
			})
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			in.log.WithError(err).Warn("relay: JetStream consumer not ready; trying again")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	in.flight.start(in.cfg.AckWait/3, in.conn.IsConnected)
	in.log.Info("relay: taking events from JetStream")
	for ctx.Err() == nil {
		// Not cancelled by ctx: the server may have sent messages already,
		// and they are handled as usual rather than left to AckWait.
		batch, err := cons.Fetch(in.cfg.PullBatch, natsjs.FetchMaxWait(in.fetchWait))
		if err != nil && in.conn.IsClosed() && ctx.Err() == nil {
			err = in.closedError()
			in.log.WithError(err).Error("relay: stopped taking events from JetStream")
			return err
		}
		if err != nil {
			in.log.WithError(err).Warn("relay: JetStream pull failed; trying again")
			select {
			case <-ctx.Done():
			case <-time.After(in.fetchWait / 4):
			}
			continue
		}
		in.handleAll(r, batch.Messages())
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			in.log.WithError(err).Debug("relay: JetStream pull")
		}
	}
	in.log.WithFields(logrus.Fields{"acked": in.acked.Load(), "naked": in.naked.Load(), "terminated": in.terminated.Load()}).
		Info("relay: stopped taking events from JetStream")
	return nil
}

// closedError is Serve's error once NATS has closed the connection for
// good (it refused the credentials again on reconnecting, say): nothing
// more can be taken, and whatever runs the relay should see it fail.
func (in *Ingress) closedError() error {
	if err := in.conn.LastError(); err != nil {
		return fmt.Errorf("jetstream ingress: NATS closed the connection: %w", err)
	}
	return fmt.Errorf("jetstream ingress: %w", nats.ErrConnectionClosed)
}

// handleAll hands the messages of one pull to the relay as they come: each
// time, every message already arrived goes in one Deliver.
func (in *Ingress) handleAll(r *relay.Relay, msgs <-chan natsjs.Msg) {
	var block []natsjs.Msg
	for msg := range msgs {
		block = append(block[:0], msg)
	collect:
		for len(block) < in.cfg.PullBatch {
			select {
			case m, ok := <-msgs:
				if !ok {
					break collect
				}
				block = append(block, m)
			default:
				break collect
			}
		}
		in.handle(r, block)
	}
}

// handle decodes messages and delivers their events; each message is acked
// or nak'ed once every endpoint has finished with its event.
func (in *Ingress) handle(r *relay.Relay, msgs []natsjs.Msg) {
	in.handled.Add(int64(len(msgs)))
	events := make([]notifications.Event, 0, len(msgs))
	kept := make([]natsjs.Msg, 0, len(msgs)) // kept[i] carried events[i]
	for _, msg := range msgs {
		e, err := decodeMessage(msg)
		if err != nil {
			in.log.WithError(err).WithField("subject", msg.Subject()).Error("relay: message is not an event; terminated")
			in.terminated.Add(1)
			_ = msg.Term()
			continue
		}
		events = append(events, e)
		kept = append(kept, msg)
	}
	if len(events) == 0 {
		return
	}
	keys := make([]uint64, len(kept))
	for i, msg := range kept {
		keys[i] = in.flight.add(msg)
	}
	err := r.Deliver(events, func(i int, ack bool) {
		in.flight.remove(keys[i])
		if ack {
			in.acked.Add(1)
			_ = kept[i].Ack()
			return
		}
		in.naked.Add(1)
		_ = kept[i].NakWithDelay(in.cfg.RetryDelay)
	})
	if err != nil {
		in.log.WithError(err).Error("relay: cannot deliver")
		for i, msg := range kept {
			in.flight.remove(keys[i])
			_ = msg.NakWithDelay(in.cfg.RetryDelay)
		}
	}
}

// decodeMessage returns the event a message carries (DecodeMessage), which
// must have an ID: the relay follows each event by it.
func decodeMessage(msg natsjs.Msg) (notifications.Event, error) {
	e, err := DecodeMessage(msg)
	if err == nil && e.ID == "" {
		err = errors.New("event without an id")
	}
	return e, err
}

// outageLog logs, while the relay waits for NATS, that it is not
// connected: at once, then whenever the latest failed attempt to reach a
// server changes (a refused dial, an authorization violation), and every
// 30 waits in between.
type outageLog struct {
	waits  int
	logged string // the error last logged
}

func (o *outageLog) log(in *Ingress) {
	var last string
	if p := in.connectErr.Load(); p != nil {
		last = *p
	}
	o.waits++
	if o.waits > 1 && last == o.logged && o.waits%30 != 1 {
		return
	}
	o.logged = last
	entry := in.log.WithField("nats", in.conn.Status().String())
	if last != "" {
		entry = entry.WithField("error", last)
	}
	entry.Warn("relay: not connected to NATS; waiting")
}

// Close closes the NATS connection when the ingress opened it. Call it
// after the relay's endpoints are closed (Relay.Run does), so that the
// acks of their last deliveries go out: it waits up to 5 seconds for the
// server to have them, through a reconnection when the connection holds
// acks while it is down. A connection that is down with nothing to send
// (one that never reached a server) is closed at once. Acks lost either
// way bring their messages back after AckWait (receivers dedupe by ID).
func (in *Ingress) Close() error {
	in.flight.close()
	if !in.owned {
		return nil
	}
	var err error
	if buffered, _ := in.conn.Buffered(); in.conn.IsConnected() || buffered > 0 {
		err = in.conn.FlushTimeout(5 * time.Second)
	}
	in.conn.Close()
	if errors.Is(err, nats.ErrConnectionClosed) {
		return nil
	}
	return err
}
