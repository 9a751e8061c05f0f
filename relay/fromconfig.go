package relay

import (
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/config"
)

// Options complete a configuration file for FromConfig.
type Options struct {
	// Logger receives the relay's and the endpoints' log lines. Default:
	// logrus' standard logger.
	Logger logrus.FieldLogger

	// OpenJetStream opens the endpoints with a jetstream: key (the
	// jetstream module's OpenConfigured). nil: such endpoints are an error.
	OpenJetStream func(config.Endpoint) (*notifications.Endpoint, error)
}

// FromConfig opens every enabled endpoint c lists and returns a relay over
// them, configured as c.Relay says; in fleet mode (c.Relay.JetStream set)
// its endpoints report to a Tracker, for Deliver. When an endpoint does not
// open, those opened are closed and the error names the file and line.
// The ingress is the caller's: an HTTPIngress on c.Relay.Listen, or the
// jetstream module's.
func FromConfig(c *config.Config, opts Options) (*Relay, error) {
	if opts.Logger == nil {
		opts.Logger = logrus.StandardLogger()
	}
	var tracker *Tracker
	if c.Relay.JetStream != nil {
		tracker = NewTracker(c.Relay.DedupeSize)
	}
	var targets []Target
	fail := func(err error) (*Relay, error) {
		for _, t := range targets {
			_ = t.Endpoint.Close()
		}
		return nil, err
	}
	for _, e := range c.Endpoints {
		if e.Disabled {
			opts.Logger.WithField("endpoint", e.Name).Info("relay: endpoint disabled")
			continue
		}
		e.Config.Logger = opts.Logger
		if tracker != nil {
			e.Config.OnFinished = tracker.Finished
		}
		var (
			endpoint *notifications.Endpoint
			err      error
		)
		switch {
		case e.JetStream == nil:
			endpoint, err = notifications.OpenEndpoint(e.Name, e.URL, e.Config)
		case opts.OpenJetStream != nil:
			endpoint, err = opts.OpenJetStream(e)
		default:
			err = fmt.Errorf("endpoint %q: jetstream endpoints need Options.OpenJetStream", e.Name)
		}
		if err != nil {
			return fail(fmt.Errorf("%s:%d: %w", c.File, e.Line, err))
		}
		targets = append(targets, Target{Endpoint: endpoint})
	}
	if len(targets) == 0 {
		return nil, errors.New("relay: no enabled endpoint in notifications.endpoints")
	}
	r, err := New(Config{
		Targets:        targets,
		Token:          c.Relay.Token,
		Secrets:        c.Relay.Secrets,
		MaxBodyBytes:   int64(c.Relay.MaxBodyBytes),
		DedupeSize:     c.Relay.DedupeSize,
		StatusInterval: c.Relay.StatusInterval,
		Logger:         opts.Logger,
		Tracker:        tracker,
	})
	if err != nil {
		return fail(err)
	}
	return r, nil
}
