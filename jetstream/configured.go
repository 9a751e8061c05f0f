package jetstream

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/config"
)

// OpenConfigured returns the endpoint a relay configuration's jetstream:
// entry describes (see package config), logging to the entry's Config.Logger.
// It returns an error, naming the entry, when e is not a JetStream entry or
// NewEndpoint refuses it.
func OpenConfigured(e config.Endpoint) (*notifications.Endpoint, error) {
	if e.JetStream == nil {
		return nil, fmt.Errorf("%w: endpoint %q is not a jetstream endpoint", notifications.ErrInvalidConfig, e.Name)
	}
	opts, err := connectOptions(e.JetStream.Credentials, e.TLS)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", e.Name, err)
	}
	cfg := Config{
		URL:           e.JetStream.URL,
		Options:       opts,
		SubjectPrefix: e.JetStream.SubjectPrefix,
		Endpoint:      e.Config,
	}
	if e.JetStream.CreateStream != "" {
		cfg.CreateStream = &StreamConfig{Name: e.JetStream.CreateStream, Duplicates: e.JetStream.Duplicates, Replicas: e.JetStream.Replicas}
	}
	return NewEndpoint(e.Name, cfg)
}

// connectOptions returns the NATS options for a credentials file and TLS
// files, either of which may be empty.
func connectOptions(credentials string, files config.TLSFiles) ([]nats.Option, error) {
	var opts []nats.Option
	if credentials != "" {
		opts = append(opts, nats.UserCredentials(credentials))
	}
	tlsConfig, err := files.Config()
	if err != nil {
		return nil, err
	}
	if tlsConfig != nil {
		opts = append(opts, nats.Secure(tlsConfig))
	}
	return opts, nil
}
