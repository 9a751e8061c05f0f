package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/config"
	"github.com/regnotify/notifications/jetstream"
	notifprom "github.com/regnotify/notifications/prometheus"
	"github.com/regnotify/notifications/relay"
)

func init() {
	commands["relay"] = command{
		summary: "deliver the events registries POST (or publish to JetStream) to the configured endpoints",
		run:     runRelay,
	}
}

// runRelay reads --config, opens every enabled endpoint and serves the
// relay until ctx is cancelled (SIGINT, SIGTERM): then it stops the
// ingress, flushes each endpoint within its closetimeout and returns nil.
// A configuration problem, or an endpoint that does not open, stops it
// before anything starts.
func runRelay(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "YAML configuration `file` (required)")
	listen := fs.String("listen", "", "`address` of POST /events, instead of the file's relay.listen")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: regnotify relay --config FILE [--listen HOST:PORT]\n\n"+
			"Takes the events registries POST to /events (or, with relay.jetstream set, pulls them\n"+
			"from a JetStream stream) and delivers them to the endpoints of the file's\n"+
			"notifications section. Stops on SIGINT or SIGTERM after flushing.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" {
		fmt.Fprintln(stderr, "--config is required")
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Relay.Listen = *listen
	}
	log := logrus.New()
	log.SetOutput(stderr)

	var tracker *relay.Tracker
	if cfg.Relay.JetStream != nil { // fleet mode: acks wait for every endpoint
		tracker = relay.NewTracker(cfg.Relay.DedupeSize)
		for i := range cfg.Endpoints {
			cfg.Endpoints[i].Config.OnFinished = tracker.Finished
		}
	}
	targets, err := openTargets(cfg, log)
	if err != nil {
		return err
	}
	r, err := relay.New(relay.Config{
		Tracker:        tracker,
		Targets:        targets,
		Token:          cfg.Relay.Token,
		Secrets:        cfg.Relay.Secrets,
		MaxBodyBytes:   int64(cfg.Relay.MaxBodyBytes),
		DedupeSize:     cfg.Relay.DedupeSize,
		StatusInterval: cfg.Relay.StatusInterval,
		Logger:         log,
	})
	if err != nil {
		closeTargets(targets)
		return err
	}
	ingress, err := newIngress(cfg, log)
	if err != nil {
		_ = r.Close()
		return err
	}
	opsDone := make(chan error, 1)
	opsCtx, stopOps := context.WithCancel(context.Background())
	if cfg.Relay.Operations != "" {
		ln, err := net.Listen("tcp", cfg.Relay.Operations)
		if err != nil {
			stopOps()
			_ = r.Close()
			return err
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(notifprom.NewCollector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		log.WithField("address", ln.Addr().String()).Info("relay: serving GET /metrics and /healthz")
		go func() {
			opsDone <- relay.Serve(opsCtx, ln, r.Operations(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
		}()
	} else {
		opsDone <- nil
	}
	err = r.Run(ctx, ingress)
	stopOps() // /healthz said "stopping" until the endpoints were closed
	if opsErr := <-opsDone; err == nil {
		err = opsErr
	}
	if err == nil {
		log.Info("relay: stopped")
	}
	return err
}

// openTargets opens every enabled endpoint of cfg. When one fails, those
// opened are closed and the error names it.
func openTargets(cfg *config.Config, log *logrus.Logger) ([]relay.Target, error) {
	var targets []relay.Target
	for _, e := range cfg.Endpoints {
		if e.Disabled {
			log.WithField("endpoint", e.Name).Info("relay: endpoint disabled")
			continue
		}
		e.Config.Logger = log
		var (
			endpoint *notifications.Endpoint
			err      error
		)
		if e.JetStream != nil {
			endpoint, err = jetstream.OpenConfigured(e)
		} else {
			endpoint, err = notifications.OpenEndpoint(e.Name, e.URL, e.Config)
		}
		if err != nil {
			closeTargets(targets)
			return nil, fmt.Errorf("%s:%d: %w", cfg.File, e.Line, err)
		}
		targets = append(targets, relay.Target{Endpoint: endpoint, IgnoredMediaTypes: e.IgnoredMediaTypes})
	}
	if len(targets) == 0 {
		return nil, errors.New("no enabled endpoint in notifications.endpoints")
	}
	return targets, nil
}

// closeTargets closes endpoints that will not be used.
func closeTargets(targets []relay.Target) {
	for _, t := range targets {
		_ = t.Endpoint.Close()
	}
}

// newIngress returns the JetStream ingress when relay.jetstream is set, and
// the HTTP one listening on relay.listen otherwise.
func newIngress(cfg *config.Config, log *logrus.Logger) (relay.Ingress, error) {
	if cfg.Relay.JetStream != nil {
		return jetstream.NewIngress(*cfg.Relay.JetStream, log)
	}
	ln, err := net.Listen("tcp", cfg.Relay.Listen)
	if err != nil {
		return nil, err
	}
	return &relay.HTTPIngress{Listener: ln}, nil
}
