package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/regnotify/notifications"
)

// window is how many messages of a batch may wait for their PubAck at once.
// It stays below the client's own limit on pending acknowledgments
// (4000), so that publishing never stalls on it.
const window = 512

// deliverer publishes each batch to JetStream, one message per event, and
// remembers which messages of the current batch were acknowledged, so that a
// retry of the same batch publishes only the others.
type deliverer struct {
	conn    *nats.Conn
	js      natsjs.JetStream
	owned   bool            // the deliverer closes conn
	closed  <-chan struct{} // closed when an owned conn is closed
	timeout time.Duration
	prefix  string
	headers nats.Header
	stream  *StreamConfig
	pubOpts []natsjs.PublishOpt

	// streamReady is true once CreateStream made the stream (or found it).
	streamReady bool

	// batch is the state of the latest batch: a retry passes the same slice.
	batch struct {
		first *notifications.Event
		n     int
		msgs  []*nats.Msg // built on first use
		acked []bool
		left  int // messages without an ack
	}
}

var _ notifications.Deliverer = (*deliverer)(nil)

func newDeliverer(conn *nats.Conn, owned bool, closed <-chan struct{}, config Config, timeout time.Duration) (*deliverer, error) {
	js, err := natsjs.New(conn, natsjs.WithPublishAsyncTimeout(timeout), natsjs.WithDefaultTimeout(timeout))
	if err != nil {
		return nil, err
	}
	headers := nats.Header{}
	for name, values := range config.Endpoint.Headers {
		headers[name] = append([]string(nil), values...)
	}
	d := &deliverer{
		conn:    conn,
		js:      js,
		owned:   owned,
		closed:  closed,
		timeout: timeout,
		prefix:  config.SubjectPrefix,
		headers: headers,
		// The endpoint's retrying sink retries a missing stream, with its
		// backoff: the client need not retry on its own.
		pubOpts: []natsjs.PublishOpt{natsjs.WithRetryAttempts(0)},
	}
	if s := config.CreateStream; s != nil {
		c := *s
		if len(c.Subjects) == 0 {
			c.Subjects = []string{config.SubjectPrefix + ".>"}
		}
		c.Subjects = append([]string(nil), c.Subjects...)
		d.stream = &c
	}
	return d, nil
}

// Deliver publishes the events of the batch that have no PubAck yet and
// waits for their acknowledgments.
func (d *deliverer) Deliver(ctx context.Context, events []notifications.Event) notifications.Delivery {
	if len(events) == 0 {
		return notifications.Delivery{Outcome: notifications.Accepted, Status: StatusAck}
	}
	if err := d.prepare(events); err != nil {
		return notifications.Delivery{Outcome: notifications.Reject, Err: err}
	}
	if !d.conn.IsConnected() {
		return notifications.Delivery{Outcome: notifications.Retry, Err: fmt.Errorf("%w (%v)", ErrNotConnected, d.conn.Status())}
	}
	if d.stream != nil && !d.streamReady {
		if del, ok := d.createStream(ctx); !ok {
			return del
		}
	}
	return d.publish(ctx)
}

// prepare makes the batch state match events: kept when events is the batch
// of the previous attempt, built anew otherwise.
func (d *deliverer) prepare(events []notifications.Event) error {
	b := &d.batch
	if b.first == &events[0] && b.n == len(events) {
		return nil
	}
	msgs := make([]*nats.Msg, len(events))
	for i := range events {
		m, err := d.message(&events[i])
		if err != nil {
			b.first, b.msgs, b.acked = nil, nil, nil
			return fmt.Errorf("encoding event %q: %w", events[i].ID, err)
		}
		msgs[i] = m
	}
	b.first, b.n, b.msgs, b.acked, b.left = &events[0], len(events), msgs, make([]bool, len(events)), len(events)
	return nil
}

// message returns the JetStream message for e.
func (d *deliverer) message(e *notifications.Event) (*nats.Msg, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	h := make(nats.Header, len(d.headers)+4)
	for name, values := range d.headers {
		h[name] = values // shared, never modified
	}
	if e.ID != "" {
		h.Set(natsjs.MsgIDHeader, e.ID)
	}
	if e.Target.Name != "" {
		h.Set(HeaderRepository, e.Target.Name)
	}
	if e.Target.Tag != "" {
		h.Set(HeaderTag, e.Target.Tag)
	}
	h.Set("Content-Type", notifications.EventsMediaType)
	return &nats.Msg{Subject: Subject(d.prefix, e), Data: body, Header: h}, nil
}

// Subject returns the subject under which the event is published with the
// given prefix: prefix.<action>.<target type>. A token that is empty or
// holds characters that have a meaning in subjects ('.', '*', '>',
// whitespace) has them replaced by '_'; the body keeps the exact values.
func Subject(prefix string, e *notifications.Event) string {
	return prefix + "." + subjectToken(e.Action) + "." + subjectToken(e.Target.Type)
}

// subjectToken returns s made usable as one subject token.
func subjectToken(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}

// createStream creates the configured stream. It reports false, with the
// delivery to return, when that failed.
func (d *deliverer) createStream(ctx context.Context) (notifications.Delivery, bool) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	_, err := d.js.CreateStream(ctx, natsjs.StreamConfig{
		Name:       d.stream.Name,
		Subjects:   d.stream.Subjects,
		Storage:    natsjs.FileStorage,
		Duplicates: d.stream.Duplicates,
	})
	if err != nil && !errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
		del := classify(err)
		del.Err = fmt.Errorf("creating stream %q: %w", d.stream.Name, err)
		return del, false
	}
	d.streamReady = true // an existing stream of another configuration is left as it is
	return notifications.Delivery{}, true
}

// pending is a message waiting for its PubAck.
type pending struct {
	i   int
	ack natsjs.PubAckFuture
}

// publish sends every message of the batch without an ack, at most window
// at a time, and waits for their acknowledgments. It stops publishing at the
// first failure, waits for what is in flight, and reports the failure.
func (d *deliverer) publish(ctx context.Context) notifications.Delivery {
	b := &d.batch
	inFlight := make([]pending, 0, min(b.left, window))
	var failure error
	next := 0
	for {
		for failure == nil && next < len(b.msgs) && len(inFlight) < window {
			if b.acked[next] {
				next++
				continue
			}
			f, err := d.js.PublishMsgAsync(b.msgs[next], d.pubOpts...)
			if err != nil {
				failure = err
				break
			}
			inFlight = append(inFlight, pending{next, f})
			next++
		}
		if len(inFlight) == 0 {
			break
		}
		p := inFlight[0]
		select {
		case <-p.ack.Ok():
			b.acked[p.i] = true
			b.left--
		case err := <-p.ack.Err():
			if failure == nil {
				failure = err
			}
		case <-ctx.Done():
			return notifications.Delivery{Outcome: notifications.Retry, Err: ctx.Err()}
		}
		inFlight = inFlight[1:]
	}
	if failure == nil && b.left == 0 {
		return notifications.Delivery{Outcome: notifications.Accepted, Status: StatusAck}
	}
	if failure == nil { // cannot happen: every message was published and answered
		failure = errors.New("messages left unpublished")
	}
	del := classify(failure)
	subject := b.msgs[firstUnacked(b.acked)].Subject
	if del.Status == StatusNoStream {
		d.streamReady = false // create it again, if configured to
		if d.stream != nil {
			del.Err = fmt.Errorf("%w: stream %q does not capture subject %q (%w)", ErrNoStream, d.stream.Name, subject, failure)
		} else {
			del.Err = fmt.Errorf("%w: no stream captures subject %q: create one for %q or set Config.CreateStream (%w)", ErrNoStream, subject, d.prefix+".>", failure)
		}
		return del
	}
	del.Err = fmt.Errorf("%w: %d of %d events, first on subject %q: %w", ErrNoAck, b.left, b.n, subject, failure)
	return del
}

// firstUnacked returns the index of the first message without an ack.
func firstUnacked(acked []bool) int {
	for i, ok := range acked {
		if !ok {
			return i
		}
	}
	return 0
}

// classify returns the outcome and status of an attempt that failed with
// err; the caller sets Err.
func classify(err error) notifications.Delivery {
	var apiErr *natsjs.APIError
	switch {
	case errors.Is(err, natsjs.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return notifications.Delivery{Outcome: notifications.Retry, Status: StatusNoStream}
	case errors.Is(err, nats.ErrMaxPayload):
		return notifications.Delivery{Outcome: notifications.Reject}
	case errors.As(err, &apiErr):
		outcome := notifications.Retry
		if apiErr.ErrorCode == natsjs.JSErrCodeStreamMessageExceedsMaximum {
			outcome = notifications.Reject
		}
		return notifications.Delivery{Outcome: outcome, Status: fmt.Sprintf("error %d", apiErr.ErrorCode)}
	}
	return notifications.Delivery{Outcome: notifications.Retry}
}

// Close closes the connection when the deliverer owns it: it drains it and
// waits until it is closed.
func (d *deliverer) Close() error {
	d.batch.first, d.batch.msgs, d.batch.acked = nil, nil, nil
	if !d.owned {
		return nil
	}
	err := d.conn.Drain()
	if errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrConnectionClosed) {
		err = nil // Drain closed it at once, or it was closed already
	}
	t := time.NewTimer(d.timeout + d.conn.Opts.DrainTimeout)
	defer t.Stop()
	select {
	case <-d.closed:
	case <-t.C:
		d.conn.Close()
		<-d.closed
	}
	return err
}
