package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/regnotify/notifications"
	webhook "github.com/regnotify/notifications/receiver"
)

// window is how many messages of a batch may wait for their PubAck at once.
// It stays below the client's own limit on pending acknowledgments
// (4000), so that publishing never stalls on it.
const window = 512

// deliverer publishes each batch to JetStream, one message per event, and
// remembers which events were acknowledged, so that a retry publishes only
// the others.
type deliverer struct {
	conn    *nats.Conn
	js      natsjs.JetStream
	owned   bool            // the deliverer closes conn
	closed  <-chan struct{} // closed when an owned conn is closed
	timeout time.Duration
	prefix  string
	headers nats.Header

	// cloudEvents: each message is a structured CloudEvent
	// (Config.Endpoint.WireFormat is notifications.FormatCloudEvents).
	cloudEvents bool
	stream      *StreamConfig
	pubOpts     []natsjs.PublishOpt

	// streamReady is true once CreateStream made the stream (or found it).
	streamReady bool
	overlapped  bool // the stream was not created: another one captures some of its subjects

	// acked holds the IDs of events acknowledged in batches not accepted
	// yet. It outlives failed attempts, so that a retry of a batch, or of a
	// part of it (a rejected batch is split in halves), publishes only the
	// others. An accepted batch removes its IDs.
	acked ackedIDs

	// serverErrs has the server's errors outside requests on an owned
	// connection; nil on a connection of the caller's.
	serverErrs *serverErrors
}

// The deliverer is an Encoder: the endpoint encodes each batch once, for
// all its attempts, and the next batch while one is out.
var _ notifications.Encoder = (*deliverer)(nil)

// encodedBatch is a batch with its messages, one per event.
type encodedBatch struct {
	events   []notifications.Event
	msgs     []*nats.Msg
	released bool
}

// Release drops the messages; they hold no pooled memory.
func (b *encodedBatch) Release() { b.events, b.msgs, b.released = nil, nil, true }

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
		conn:        conn,
		js:          js,
		owned:       owned,
		closed:      closed,
		timeout:     timeout,
		prefix:      config.SubjectPrefix,
		headers:     headers,
		cloudEvents: config.Endpoint.WireFormat == notifications.FormatCloudEvents,
		// The endpoint's retrying sink retries a missing stream, with its
		// backoff: the client need not retry on its own.
		pubOpts: []natsjs.PublishOpt{natsjs.WithRetryAttempts(0)},
		acked:   ackedIDs{ids: make(map[string]struct{}), limit: maxAckedIDs},
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

// Encode makes the messages of events, one per event. It only reads the
// deliverer's configuration, so it may run while DeliverEncoded publishes.
func (d *deliverer) Encode(events []notifications.Event) (notifications.Encoded, error) {
	msgs := make([]*nats.Msg, len(events))
	for i := range events {
		m, err := d.message(&events[i])
		if err != nil {
			return nil, fmt.Errorf("encoding event %d of %d: %w", i+1, len(events), err) // never its ID: errors are logged
		}
		msgs[i] = m
	}
	return &encodedBatch{events: events, msgs: msgs}, nil
}

// Deliver encodes events and publishes them.
func (d *deliverer) Deliver(ctx context.Context, events []notifications.Event) notifications.Delivery {
	enc, err := d.Encode(events)
	if err != nil {
		return notifications.Delivery{Outcome: notifications.Reject, Err: err}
	}
	defer enc.Release()
	return d.DeliverEncoded(ctx, enc)
}

// DeliverEncoded publishes the events of the batch that have no PubAck yet
// and waits for their acknowledgments.
func (d *deliverer) DeliverEncoded(ctx context.Context, enc notifications.Encoded) notifications.Delivery {
	b, ok := enc.(*encodedBatch)
	if !ok || b.released {
		return notifications.Delivery{Outcome: notifications.Reject, Err: errors.New("batch not encoded by this deliverer")}
	}
	events, msgs := b.events, b.msgs
	if len(events) == 0 {
		return notifications.Delivery{Outcome: notifications.Accepted, Status: StatusAck}
	}
	if !d.conn.IsConnected() {
		why := d.conn.Status().String()
		if last := d.conn.LastError(); last != nil { // a refused dial, refused credentials: no secret
			why += ": " + last.Error()
		}
		return notifications.Delivery{Outcome: notifications.Retry, Err: fmt.Errorf("%w (%s)", ErrNotConnected, why)}
	}
	if d.stream != nil && !d.streamReady {
		if del, ok := d.createStream(ctx); !ok {
			return del
		}
	}
	del := d.publish(ctx, events, msgs)
	if del.Outcome == notifications.Accepted {
		for i := range events {
			d.acked.remove(events[i].ID)
		}
	}
	return del
}

// isAcked reports whether e was acknowledged in an earlier attempt. Events
// without an ID cannot be told apart: they are published on every attempt.
func (d *deliverer) isAcked(e *notifications.Event) bool {
	return e.ID != "" && d.acked.has(e.ID)
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
		Replicas:   d.stream.Replicas,
	})
	d.overlapped = subjectsTaken(err)
	if err != nil && !errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) && !d.overlapped {
		del := classify(err)
		del.Err = fmt.Errorf("creating stream %q: %w", d.stream.Name, err)
		return del, false
	}
	d.streamReady = true // an existing stream of another configuration is left as it is
	return notifications.Delivery{}, true
}

// errLongID refuses an event whose ID no relay or receiver of this
// library takes: published, it would be dropped by whoever reads it.
var errLongID = fmt.Errorf("event ID longer than %d bytes, which relays and receivers refuse", webhook.MaxEventIDBytes)

// errCodeHeaderTooLarge is the server's answer to a message whose headers
// pass 64 KiB (nats-server's JSStreamHeaderExceedsMaximumErr): another
// attempt fails the same way.
const errCodeHeaderTooLarge natsjs.ErrorCode = 10097

// errCodeSubjectsOverlap is the server's answer to a stream whose subjects
// another stream captures already (nats-server's JSStreamSubjectOverlapErr).
const errCodeSubjectsOverlap natsjs.ErrorCode = 10065

// subjectsTaken reports whether err says that another stream captures the
// subjects already: the events are published into that one, as into a
// stream of the same name that exists.
func subjectsTaken(err error) bool {
	var apiErr *natsjs.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeSubjectsOverlap
}

// maxAckedIDs bounds how many acknowledged IDs a deliverer remembers. Only
// the events of batches that were given up stay in the set, until pushed
// out by newer ones; forgetting one costs a publish that the stream's
// duplicate window drops.
const maxAckedIDs = 16384

// ackedIDs is a set of event IDs that forgets the oldest beyond its limit.
type ackedIDs struct {
	ids   map[string]struct{}
	order []string // in the order added; may hold IDs removed since
	limit int
}

func (a *ackedIDs) has(id string) bool {
	_, ok := a.ids[id]
	return ok
}

func (a *ackedIDs) add(id string) {
	a.ids[id] = struct{}{}
	a.order = append(a.order, id)
	if len(a.order) > a.limit {
		delete(a.ids, a.order[0])
		a.order[0] = ""
		a.order = a.order[1:]
	}
}

func (a *ackedIDs) remove(id string) { delete(a.ids, id) }

// pending is a message waiting for its PubAck.
type pending struct {
	i   int
	ack natsjs.PubAckFuture
}

// publish sends the message of every event without an ack, at most window
// at a time, and waits for their acknowledgments. It stops publishing at the
// first failure, waits for what is in flight, and reports the failure.
func (d *deliverer) publish(ctx context.Context, events []notifications.Event, msgs []*nats.Msg) notifications.Delivery {
	start := time.Now()
	inFlight := make([]pending, 0, min(len(events), window))
	todo := 0 // events without an ack when the attempt starts
	for i := range events {
		if !d.isAcked(&events[i]) {
			todo++
		}
	}
	var failure error
	firstFailed, acked := -1, 0
	next := 0
	for {
		for failure == nil && next < len(events) && len(inFlight) < window {
			if d.isAcked(&events[next]) {
				next++
				continue
			}
			f, err := d.js.PublishMsgAsync(msgs[next], d.pubOpts...)
			if err != nil {
				failure, firstFailed = err, next
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
			acked++
			if id := events[p.i].ID; id != "" {
				d.acked.add(id)
			}
		case err := <-p.ack.Err():
			if failure == nil || p.i < firstFailed {
				failure, firstFailed = err, p.i
			}
		case <-ctx.Done():
			return notifications.Delivery{Outcome: notifications.Retry, Err: ctx.Err()}
		}
		inFlight = inFlight[1:]
	}
	if failure == nil {
		return notifications.Delivery{Outcome: notifications.Accepted, Status: StatusAck}
	}
	if said := d.serverErrs.since(start); said != nil && errors.Is(failure, natsjs.ErrAsyncPublishTimeout) {
		// A publish the server refused (its permissions, say) gets no
		// answer: the reason came on its own.
		failure = fmt.Errorf("%w; the NATS server meanwhile: %w", failure, said)
	}
	del := classify(failure)
	subject := msgs[firstFailed].Subject
	if del.Status == StatusNoStream {
		d.streamReady = false // create it again, if configured to
		if d.stream != nil && d.overlapped {
			del.Err = fmt.Errorf("%w: no stream captures subject %q: stream %q was not created, as another stream captures some of its subjects (%w)", ErrNoStream, subject, d.stream.Name, failure)
		} else if d.stream != nil {
			del.Err = fmt.Errorf("%w: stream %q does not capture subject %q (%w)", ErrNoStream, d.stream.Name, subject, failure)
		} else {
			del.Err = fmt.Errorf("%w: no stream captures subject %q: create one for %q or set Config.CreateStream (%w)", ErrNoStream, subject, d.prefix+".>", failure)
		}
		return del
	}
	del.Err = fmt.Errorf("%w: %d of %d events, first on subject %q: %w", ErrNoAck, todo-acked, len(events), subject, failure)
	return del
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
		if apiErr.ErrorCode == natsjs.JSErrCodeStreamMessageExceedsMaximum || apiErr.ErrorCode == errCodeHeaderTooLarge {
			outcome = notifications.Reject // the message itself: it is split off and given up
		}
		return notifications.Delivery{Outcome: outcome, Status: fmt.Sprintf("error %d", apiErr.ErrorCode)}
	}
	return notifications.Delivery{Outcome: notifications.Retry}
}

// Close closes the connection when the deliverer owns it: it drains it,
// for at most a request's timeout, and waits until it is closed. The
// endpoint's queue has closed by then and awaits no answer, so a
// connection that no longer answers (half-open) is not waited for through
// its DrainTimeout: the endpoint's Close stays within its CloseTimeout and
// a request's timeout.
func (d *deliverer) Close() error {
	clear(d.acked.ids)
	d.acked.order = nil
	if !d.owned {
		return nil
	}
	err := d.conn.Drain()
	if err != nil {
		d.conn.Close() // no-op when Drain closed it at once, or it was closed
		if errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrConnectionClosed) {
			err = nil
		}
	}
	t := time.NewTimer(d.timeout)
	defer t.Stop()
	select {
	case <-d.closed:
	case <-t.C:
		d.conn.Close()
		<-d.closed
	}
	return err
}
