package jetstream

import (
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/sirupsen/logrus"
)

// serverErrors takes the errors a NATS server reports on a connection of
// ours outside any request (nats.ErrorHandler): a publish its permissions
// refuse, an authorization violation on reconnecting. nats.go would print
// them on stderr, past the caller's logger. It logs each (a message again
// only once it changed, what it quotes aside, or a minute passed), and
// keeps the latest, so that
// an attempt that failed without an answer (a publish the server dropped
// is only a timeout to the publisher) can name it.
type serverErrors struct {
	log logrus.FieldLogger

	mu       sync.Mutex
	last     error
	at       time.Time // when last came
	logged   string    // the message last logged, unquoted
	loggedAt time.Time
}

// serverErrorsRepeat is how often one unchanged error is logged again.
const serverErrorsRepeat = time.Minute

func newServerErrors(log logrus.FieldLogger) *serverErrors { return &serverErrors{log: log} }

// record is the connection's ErrorHandler.
func (s *serverErrors) record(_ *nats.Conn, _ *nats.Subscription, err error) {
	if err == nil {
		return
	}
	now := time.Now()
	kind := unquoted(err.Error()) // each refused ack names its own subject
	s.mu.Lock()
	s.last, s.at = err, now
	again := kind != s.logged || now.Sub(s.loggedAt) >= serverErrorsRepeat
	if again {
		s.logged, s.loggedAt = kind, now
	}
	s.mu.Unlock()
	if again {
		s.log.WithError(err).Warn("jetstream: the NATS server reports an error")
	}
}

// unquoted returns msg without what it quotes: the subject of a
// permissions violation, different for each message a relay acks.
func unquoted(msg string) string {
	var b strings.Builder
	in := false
	for _, r := range msg {
		if r == '"' {
			in = !in
			continue
		}
		if !in {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// since returns the latest error recorded at t or later, or nil; nil for a
// nil s (a connection of the caller's, whose errors go to its own handler).
func (s *serverErrors) since(t time.Time) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil || s.at.Before(t) {
		return nil
	}
	return s.last
}
