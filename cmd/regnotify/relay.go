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
// before anything starts; an ingress that fails (in fleet mode, NATS
// closing the connection for good) stops it with that error.
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
		if cfg.Relay.JetStream != nil {
			return errors.New("--listen: in fleet mode (relay.jetstream in the file) there is no HTTP ingress")
		}
		cfg.Relay.Listen = *listen
	}
	log := logrus.New()
	log.SetOutput(stderr)

	r, err := relay.FromConfig(cfg, relay.Options{Logger: log, OpenJetStream: jetstream.OpenConfigured})
	if err != nil {
		return err
	}
	// The operations address first: the ingress, once open, holds a port
	// or a NATS connection, and only Run releases them.
	var ln net.Listener
	if cfg.Relay.Operations != "" {
		if ln, err = net.Listen("tcp", cfg.Relay.Operations); err != nil {
			_ = r.Close()
			return err
		}
	}
	ingress, err := newIngress(cfg, log)
	if err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		_ = r.Close()
		return err
	}
	opsDone := make(chan error, 1)
	opsCtx, stopOps := context.WithCancel(context.Background())
	if ln != nil {
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
