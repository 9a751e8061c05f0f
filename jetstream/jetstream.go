// Package jetstream delivers registry events into a NATS JetStream stream.
//
// NewEndpoint returns a *notifications.Endpoint like the webhook endpoints of
// the core package: the same queue and spool, batching, retries, MaxPending,
// CloseTimeout, dead letter, metrics and expvar publication, with JetStream
// as the destination instead of an HTTP receiver. It lives in a module of its
// own so that importing the core never brings in NATS.
//
// Each event becomes one message:
//
//   - subject: <SubjectPrefix>.<action>.<target type>, for example
//     registry.events.push.manifest;
//   - body: the event's JSON, as one element of a webhook envelope would
//     carry it; or, when Config.Endpoint.WireFormat is
//     notifications.FormatCloudEvents, the event as one structured CloudEvent
//     (notifications.AppendCloudEvent) whose data is that JSON;
//   - headers: Nats-Msg-Id (the event ID, so that the stream's duplicate
//     window drops what a retry or a restart publishes again, in either
//     format; an ID with a space at either end, a control character or a
//     '%' is percent-encoded there, since NATS trims header values and
//     turns line breaks into spaces, which would give two events one
//     Nats-Msg-Id), Registry-Repository (Target.Name, or Target.Repository),
//     Registry-Tag (when the event has one), Content-Type
//     (notifications.EventsMediaType, or notifications.CloudEventsMediaType),
//     and the headers of the endpoint configuration.
//
// A batch is published asynchronously and counts as delivered only when every
// message's PubAck came back. When some came back and others did not, the
// next attempt publishes only those without an ack (events without an ID
// cannot be told apart, and are published on every attempt). Messages reach
// the stream in the order of the events, except that a failure in the middle
// of a batch may let messages already in flight land before the ones
// published again.
//
// The endpoint's metrics count each attempt under one of these statuses:
// StatusAck when every message was acknowledged; StatusNoStream when no
// stream captures a subject (counted as a failure and retried); "error N"
// when JetStream refused a message with API error code N; and no status at
// all (an error, in EndpointMetrics.Errors) for connection problems and
// missing acknowledgments.
package jetstream

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/config"
	"github.com/sirupsen/logrus"
)

// DefaultSubjectPrefix is the subject prefix used when Config.SubjectPrefix is
// empty.
const DefaultSubjectPrefix = "registry.events"

// MaxSubjectPrefixBytes bounds Config.SubjectPrefix: the server's control
// line (4 KiB by default) must hold a message's whole subject, the prefix
// and two tokens of up to 64 bytes each, with its reply subject and
// lengths; past it the server closes the connection.
const MaxSubjectPrefixBytes = 4096 - 256

// MinDuplicates is the shortest StreamConfig.Duplicates window that
// nats-server takes (0 takes its default).
const MinDuplicates = config.MinStreamDuplicates

// Headers set on every message besides Nats-Msg-Id and Content-Type.
const (
	// HeaderRepository carries the event's target repository name.
	HeaderRepository = "Registry-Repository"

	// HeaderTag carries the event's target tag, when it has one.
	HeaderTag = "Registry-Tag"
)

// Statuses under which the endpoint's metrics count delivery attempts.
const (
	// StatusAck counts the events of batches whose every message was
	// acknowledged by JetStream.
	StatusAck = "ack"

	// StatusNoStream counts the events of attempts that found no stream
	// capturing their subject. Such attempts are failures and are retried.
	StatusNoStream = "no stream"
)

// ErrNoStream is wrapped by the delivery error of an attempt whose messages
// no stream captures.
var ErrNoStream = errors.New("jetstream: no stream captures the subject")

// ErrNotConnected is wrapped by the delivery error of an attempt made while
// the connection to NATS is down.
var ErrNotConnected = errors.New("jetstream: not connected")

// ErrNoAck is wrapped by the delivery error of an attempt in which some
// messages were not acknowledged.
var ErrNoAck = errors.New("jetstream: messages not acknowledged")

// Config configures a JetStream endpoint.
type Config struct {
	// URL is the NATS server to connect to, such as nats://127.0.0.1:4222,
	// or several servers of one cluster separated by commas. The endpoint
	// owns this connection and closes it when it is closed. It keeps
	// reconnecting, without limit, while the server is away. Ignored when
	// Conn is set.
	URL string

	// Conn, when set, is a connection the endpoint publishes on instead of
	// connecting to URL. The caller keeps owning it: closing the endpoint
	// does not close it. The NATS client keeps the endpoint's
	// acknowledgment subscription, and one goroutine watching the
	// connection, until the connection is closed.
	Conn *nats.Conn

	// Options are applied when the endpoint connects to URL, after its own
	// defaults (a name, unlimited reconnects, retrying a failed first
	// connect, reconnecting through refused credentials, the server's
	// errors to the endpoint's Logger): credentials, TLS, reconnect waits.
	// Ignored when Conn is set.
	// NoCallbacksAfterClientClose is turned off: Close waits for the closed
	// callback (a ClosedCB of the options is called before it returns).
	Options []nats.Option

	// SubjectPrefix starts the subject of every message. It must be one or
	// more dot-separated tokens without wildcards. Default "registry.events".
	SubjectPrefix string

	// CreateStream, when set, makes the endpoint create the stream before
	// its first delivery (and again after the stream was found missing). It
	// is off by default: operators usually own their streams.
	CreateStream *StreamConfig

	// Endpoint configures the endpoint around the JetStream delivery: the
	// retries, the logger, and the headers added to every message (not
	// Nats-Msg-Id; their names printable ASCII without spaces nor any of
	// "(),/:;<=>?@[\]{}, which NATS refuses: NewEndpoint refuses them). Its
	// Timeout bounds the wait for each message's acknowledgment (default
	// 1s); its WireFormat chooses the message body: the event's JSON (default)
	// or a CloudEvent (notifications.FormatCloudEvents).
	Endpoint notifications.EndpointConfig
}

// StreamConfig describes the stream that Config.CreateStream creates. The
// stream keeps its messages in files.
type StreamConfig struct {
	// Name is the stream's name. Required.
	Name string

	// Subjects are the subjects the stream captures. Default: every subject
	// under the prefix, "<SubjectPrefix>.>".
	Subjects []string

	// Duplicates is the window within which a message whose Nats-Msg-Id was
	// already stored is dropped. Default: the server's, two minutes.
	Duplicates time.Duration

	// Replicas is how many servers of a cluster keep the stream's messages,
	// from 1 to MaxReplicas; 3 lets the stream lose a server and keep both
	// its events and its writes. Default 1: one server holds the events, and
	// while it is down the stream takes none. A server that is not clustered
	// refuses more than 1 (error 10074): the events wait, retried with the
	// endpoint's backoff, and each failure is logged with that error. Like
	// the rest of this configuration, it makes a stream: one that exists
	// already is left as it is (change its replicas with "nats stream
	// edit").
	Replicas int
}

// MaxReplicas is the most replicas a JetStream stream can have.
const MaxReplicas = config.MaxStreamReplicas

// NewEndpoint returns a running endpoint, named name, that publishes events
// to JetStream as config says. It returns an error wrapping
// notifications.ErrInvalidConfig when config cannot be used. It does not wait
// for the server: an endpoint created while NATS is away queues its events
// and delivers them once it is back.
func NewEndpoint(name string, config Config) (*notifications.Endpoint, error) {
	if config.SubjectPrefix == "" {
		config.SubjectPrefix = DefaultSubjectPrefix
	}
	if err := validate(name, config); err != nil {
		return nil, err
	}
	log := config.Endpoint.Logger
	if log == nil {
		log = logrus.StandardLogger()
	}
	log = log.WithField("endpoint", name)
	if s := config.CreateStream; s != nil && len(s.Subjects) > 0 && !slices.ContainsFunc(s.Subjects, func(subject string) bool { return capturesAll(subject, config.SubjectPrefix) }) {
		// Not refused: an existing stream may take the events instead, or
		// the endpoint ignore the actions the subjects leave out.
		log.Warnf("jetstream: no subject of stream %q captures every subject the endpoint publishes on, %s.<action>.<type>: if the stream is created, events on the others wait for ever", s.Name, config.SubjectPrefix)
	}
	timeout := config.Endpoint.Timeout
	if timeout <= 0 {
		timeout = notifications.DefaultTimeout
	}

	var serverErrs *serverErrors
	if config.Conn == nil {
		serverErrs = newServerErrors(log)
	}
	conn, owned, closed, err := connect(name, config, serverErrs)
	if err != nil {
		return nil, err
	}
	d, err := newDeliverer(conn, owned, closed, config, timeout)
	if err != nil {
		if owned {
			conn.Close()
		}
		return nil, fmt.Errorf("%w: endpoint %q: %w", notifications.ErrInvalidConfig, name, err)
	}
	d.serverErrs = serverErrs
	e, err := notifications.NewDelivererEndpoint(name, target(config), d, config.Endpoint)
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	return e, nil
}

// connect returns the connection config asks for, whether the endpoint owns
// it, and, when it does, a channel closed once the connection is closed.
// The server's errors on a connection of its own go to serverErrs (unless
// config.Options set an ErrorHandler).
func connect(name string, config Config, serverErrs *serverErrors) (*nats.Conn, bool, <-chan struct{}, error) {
	if config.Conn != nil {
		return config.Conn, false, nil, nil
	}
	opts := nats.GetDefaultOptions()
	// Options.Url is one server: the servers of a comma-separated URL list
	// (as nats.Connect takes it) go to Servers.
	for _, u := range strings.Split(config.URL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			opts.Servers = append(opts.Servers, u)
		}
	}
	opts.Name = "regnotify " + name
	opts.MaxReconnect = -1
	opts.RetryOnFailedConnect = true
	// An authorization violation on reconnecting would otherwise close the
	// connection for good after the second, and the endpoint could deliver
	// nothing until its process restarts, whatever was fixed on the server:
	// it keeps trying, and its logger says why it fails.
	opts.IgnoreAuthErrorAbort = true
	opts.AsyncErrorCB = serverErrs.record
	for _, o := range config.Options {
		if err := o(&opts); err != nil {
			return nil, false, nil, fmt.Errorf("%w: endpoint %q: NATS option: %w", notifications.ErrInvalidConfig, name, err)
		}
	}
	// Close waits for the closed callback: it must come, even after a
	// Close of ours.
	opts.NoCallbacksAfterClientClose = false
	closed := make(chan struct{})
	callerClosed := opts.ClosedCB
	opts.ClosedCB = func(c *nats.Conn) {
		if callerClosed != nil {
			callerClosed(c)
		}
		close(closed)
	}
	conn, err := opts.Connect()
	if err != nil {
		return nil, false, nil, fmt.Errorf("%w: endpoint %q: connecting to %s: %w", notifications.ErrInvalidConfig, name, redactURLs(config.URL), connectError(err))
	}
	return conn, true, closed, nil
}

// target names the destination in metrics, logs and expvar: the server
// URLs, without credentials, and the subjects, such as
// "nats://127.0.0.1:4222 registry.events.>".
func target(config Config) string {
	servers := "nats"
	if config.Conn != nil {
		if u := config.Conn.ConnectedUrl(); u != "" {
			servers = notifications.RedactURL(u) // ConnectedUrlRedacted keeps a token, and a user name
		}
	} else {
		servers = redactURLs(config.URL)
	}
	return servers + " " + config.SubjectPrefix + ".>"
}

// redactURLs returns the comma-separated URLs of list without any part of
// their user names, passwords or tokens, however malformed: a password may
// hold a ',' that would split it between two URLs, so the list is redacted
// whole.
func redactURLs(list string) string { return notifications.RedactURL(strings.TrimSpace(list)) }

// Connect connects to the NATS servers of urls, a comma-separated list,
// with opts, as the ingress does. Its errors name the servers without
// credentials and quote no URL (nats.Connect's error for a URL that does
// not parse quotes it, password included).
func Connect(urls string, opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", redactURLs(urls), connectError(err))
	}
	return nc, nil
}

// connectError returns err, from connecting to NATS, fit to show: the
// error of a server URL that does not parse quotes the URL, password
// included, so it is replaced by one that quotes nothing.
func connectError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New("a server URL does not parse (percent-encode '#', '/', '?', '@', '%', ',' and spaces in a user name or password)")
	}
	return err
}
