// Package config reads the configuration of a relay from YAML: the
// notifications section of distribution's config.yml, exactly as operators
// write it for their registry, with regnotify's extra keys, and a relay
// section for the relay's own listener and ingress.
//
//	relay:
//	  listen: 0.0.0.0:5050            # POST /events (--listen overrides it)
//	  operations: 127.0.0.1:9090      # GET /metrics and /healthz
//	  token: {env: RELAY_TOKEN}        # ingress needs "Authorization: Bearer <token>"
//	notifications:
//	  endpoints:
//	    - name: ci
//	      url: https://ci.example/hooks/registry
//	      headers: {Authorization: [{env: CI_TOKEN}]}
//	      timeout: 2s
//	      threshold: 5
//	      backoff: 1s
//	      ignore: {actions: [pull]}
//	      spooldir: /var/lib/regnotify  # extra keys: every EndpointConfig field, lower case
//	      signingsecrets: [{file: /run/secrets/ci-whsec}]
//
// Values are read as distribution's YAML reader (YAML 1.1) reads them, so
// that a block the registry runs is read to the same settings: yes, no, on
// and off are booleans, a plain integer duration is nanoseconds in any
// integer notation (0x10, 0o10, 010, 1_000), and merge keys (<<: *anchor)
// are expanded, a later key replacing an earlier one.
//
// Every confidential value (header values, signing secrets, the ingress
// token and secrets) may be written as a plain string, as {env: NAME} or as
// {file: PATH}. Relative file names are taken from the configuration file's
// directory.
//
// Parse and Load check everything before anything starts: an unknown key, a
// malformed duration, URL, secret or pattern, or a secret whose variable or
// file is missing, is an *Error naming the file, the line and the key; all
// problems are returned together (errors.Join).
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/regnotify/notifications"
)

// DefaultListen is the address of the HTTP ingress when neither the file nor
// the command line names one.
const DefaultListen = "127.0.0.1:5050"

// Config is a relay's whole configuration.
type Config struct {
	// File is the name the configuration was read from.
	File string

	// Relay configures the relay itself.
	Relay Relay

	// IncludeReferences is notifications.events.includereferences, accepted
	// so that a registry's block can be pasted unchanged. The relay passes
	// on what the registry sent; the key has no effect.
	IncludeReferences bool

	// Endpoints are the notifications.endpoints entries, in file order,
	// disabled ones included.
	Endpoints []Endpoint
}

// Relay is the relay: section.
type Relay struct {
	// Listen is the address of the HTTP ingress (POST /events). Default
	// DefaultListen. Listen, Token, Secrets and MaxBodyBytes configure the
	// HTTP ingress: with JetStream (fleet mode) there is none, and the file
	// may not set them.
	Listen string

	// Operations is the address serving GET /metrics and /healthz. Empty:
	// not served.
	Operations string

	// Token, when set, makes the ingress require
	// "Authorization: Bearer <Token>".
	Token string

	// Secrets, when set, make the ingress require a Standard Webhooks
	// signature by one of them (for senders that sign).
	Secrets []string

	// MaxBodyBytes is the largest request body the ingress reads. Zero: the
	// receiver package's default (10 MiB).
	MaxBodyBytes int

	// DedupeSize is how many event IDs the ingress remembers to drop what a
	// registry sends again. Zero: the receiver package's default.
	DedupeSize int

	// StatusInterval is how often the relay logs where each endpoint
	// stands. Zero: every minute.
	StatusInterval time.Duration

	// JetStream, when set, makes the relay pull events from a JetStream
	// stream (fleet mode) instead of serving POST /events.
	JetStream *JetStreamIngress
}

// MinAckWait is the shortest relay.jetstream.ackwait: a relay tells
// JetStream every ackwait/3 that it still works on its messages. It is the
// jetstream module's MinAckWait.
const MinAckWait = 100 * time.Millisecond

// Floors of durations that no endpoint means below them, where a number
// written without a unit (nanoseconds) lands: a timeout no answer can meet
// (every attempt fails, for ever), an age that gives events up before their
// first attempt.
const (
	minEndpointTimeout = time.Millisecond
	minMaxEventAge     = time.Second
)

// MinStreamDuplicates is the shortest duplicates: window of a jetstream
// endpoint's stream that nats-server takes (0, or none, takes its default).
// It is the jetstream module's MinDuplicates.
const MinStreamDuplicates = 100 * time.Millisecond

// MaxStreamReplicas is the most replicas a jetstream endpoint's stream may
// have (replicas:): NATS's limit, the jetstream module's MaxReplicas.
const MaxStreamReplicas = 5

// JetStreamIngress is the relay.jetstream: section (fleet mode). The
// jetstream module builds the consumer from it.
type JetStreamIngress struct {
	// URL lists NATS servers, separated by commas. Required.
	URL string
	// Stream is the stream to read. Required.
	Stream string
	// Durable names the consumer every relay of the fleet shares. Required.
	Durable string
	// FilterSubjects restrict the consumer to these subjects. Default: all.
	FilterSubjects []string
	// AckWait is how long JetStream waits for a relay's ack before it
	// delivers a message again, at least MinAckWait. Zero: the jetstream
	// module's default.
	AckWait time.Duration
	// MaxAckPending bounds the messages out and unacked, for the whole
	// fleet. Zero: the jetstream module's default.
	MaxAckPending int
	// Credentials is a NATS credentials file. Optional.
	Credentials string
	// TLS configures the connection to NATS. Optional.
	TLS TLSFiles
}

// TLSFiles names the files of a TLS client configuration.
type TLSFiles struct {
	// RootCAs are PEM files of the certificate authorities to trust
	// instead of the system's.
	RootCAs []string
	// Certificate and Key are the PEM files of a client certificate (mTLS).
	Certificate, Key string
}

// Endpoint is one notifications.endpoints entry.
type Endpoint struct {
	// Name identifies the endpoint. Required and unique.
	Name string

	// Line is where the entry starts in the file.
	Line int

	// Disabled endpoints are read and checked, and not opened.
	Disabled bool

	// URL is where an HTTP endpoint POSTs. Set for HTTP endpoints.
	URL string

	// JetStream is set for an endpoint that publishes into a stream
	// instead; the jetstream module builds it.
	JetStream *JetStreamEndpoint

	// Config holds every EndpointConfig field the entry sets (format: or
	// wireformat: is Config.WireFormat), its Transport built from TLS.
	Config notifications.EndpointConfig

	// TLS names the files Config.Transport was built from.
	TLS TLSFiles
}

// JetStreamEndpoint is the jetstream: key of an endpoint that publishes
// events into a stream.
type JetStreamEndpoint struct {
	// URL lists NATS servers, separated by commas. Required.
	URL string
	// SubjectPrefix starts each message's subject. Default: the jetstream
	// module's.
	SubjectPrefix string
	// Credentials is a NATS credentials file. Optional.
	Credentials string
	// CreateStream, when set, names a stream the endpoint creates.
	CreateStream string
	// Duplicates is the duplicate window of the stream it creates.
	Duplicates time.Duration
	// Replicas is how many servers of the cluster keep the stream it
	// creates (jetstream.StreamConfig.Replicas), at most MaxStreamReplicas.
	Replicas int
}

// Load reads and checks the configuration file at path. Secrets given as
// {env: NAME} come from the process's environment.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse reads and checks a configuration. file names it in errors, and its
// directory is where relative file names start; lookup resolves
// {env: NAME} secrets (os.LookupEnv in Load). The error, when not nil, joins
// one *Error per problem.
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	d := &decoder{file: file, dir: filepath.Dir(file), lookup: lookup, read: readSecretFile}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: file, Err: err}
	}
	c := &Config{File: file}
	if len(doc.Content) > 0 {
		d.mapping(doc.Content[0], "", fields{
			"relay":         func(n *yaml.Node, key string) { d.relay(n, key, &c.Relay) },
			"notifications": func(n *yaml.Node, key string) { d.notifications(n, key, c) },
		})
	}
	if c.Relay.JetStream != nil {
		for i, e := range c.Endpoints {
			if e.Config.SpoolDir != "" {
				d.failf(&yaml.Node{Line: e.Line}, fmt.Sprintf("notifications.endpoints[%d].spooldir", i), ErrBadValue,
					"no spool in fleet mode (relay.jetstream): JetStream keeps what is not acked")
			}
		}
	}
	if c.Relay.Listen == "" {
		c.Relay.Listen = DefaultListen
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return c, nil
}

// relay decodes the relay: section.
func (d *decoder) relay(n *yaml.Node, key string, r *Relay) {
	// The HTTP ingress's keys, which a relay in fleet mode would ignore.
	type setting struct {
		n   *yaml.Node
		key string
	}
	var httpOnly []setting
	ingress := func(f func(*yaml.Node, string)) func(*yaml.Node, string) {
		return func(n *yaml.Node, key string) {
			httpOnly = append(httpOnly, setting{n, key})
			f(n, key)
		}
	}
	d.mapping(n, key, fields{
		"listen":         ingress(d.str(&r.Listen)),
		"operations":     d.str(&r.Operations),
		"token":          ingress(d.token(&r.Token)),
		"secrets":        ingress(d.secrets(&r.Secrets, checkSecret)),
		"maxbodybytes":   ingress(d.count(&r.MaxBodyBytes)),
		"dedupesize":     d.count(&r.DedupeSize),
		"statusinterval": d.duration(&r.StatusInterval, false),
		"jetstream": func(n *yaml.Node, key string) {
			js := &JetStreamIngress{}
			d.mapping(n, key, fields{
				"url":            d.str(&js.URL),
				"stream":         d.str(&js.Stream),
				"durable":        d.str(&js.Durable),
				"filtersubjects": d.list(&js.FilterSubjects, nil),
				"ackwait":        d.atLeast(&js.AckWait, MinAckWait),
				"maxackpending":  d.count(&js.MaxAckPending),
				"credentials":    d.filePath(&js.Credentials),
				"tls":            func(n *yaml.Node, key string) { d.tlsFiles(&js.TLS, n, key) },
			})
			for _, req := range []struct{ name, value string }{{"url", js.URL}, {"stream", js.Stream}, {"durable", js.Durable}} {
				if req.value == "" {
					d.failf(n, join(key, req.name), ErrMissing, "required in fleet mode")
				}
			}
			r.JetStream = js
		},
	})
	if r.JetStream != nil {
		for _, s := range httpOnly {
			d.failf(s.n, s.key, ErrBadValue, "the HTTP ingress's: in fleet mode (relay.jetstream) there is none")
		}
	}
}

// token decodes relay.token: a secret that is a bearer token, not empty
// (an empty token would leave the ingress open) and without spaces (HTTP
// would not carry them).
func (d *decoder) token(out *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		v, ok := d.secret(n, key)
		switch {
		case !ok:
		case v == "":
			d.failf(n, key, ErrBadValue, "empty: remove the key to take events without a token")
		case strings.ContainsAny(v, " \t\r\n"):
			d.failf(n, key, ErrBadValue, "a bearer token holds no spaces")
		default:
			*out = v
		}
	}
}

// atLeast decodes a duration that is 0 (unset) or at least least.
func (d *decoder) atLeast(out *time.Duration, least time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		d.duration(out, false)(n, key)
		if *out > 0 && *out < least {
			d.failf(n, key, ErrBadValue, "%s is shorter than %s (a number without a unit is nanoseconds: write 30s)", *out, least)
		}
	}
}

// notifications decodes the notifications: section.
func (d *decoder) notifications(n *yaml.Node, key string, c *Config) {
	d.mapping(n, key, fields{
		"events": func(n *yaml.Node, key string) {
			d.mapping(n, key, fields{"includereferences": d.boolean(&c.IncludeReferences)})
		},
		"endpoints": func(n *yaml.Node, key string) {
			n = resolve(n)
			if isNull(n) {
				return
			}
			if n.Kind != yaml.SequenceNode {
				d.failf(n, key, ErrBadValue, "want a list of endpoints")
				return
			}
			names := map[string]int{}
			for i, item := range n.Content {
				ikey := fmt.Sprintf("%s[%d]", key, i)
				e := d.endpoint(item, ikey)
				if e.Name != "" {
					if line, dup := names[e.Name]; dup {
						d.failf(item, ikey+".name", ErrBadValue, "%q is also the name of the endpoint on line %d", e.Name, line)
					}
					names[e.Name] = e.Line
				}
				c.Endpoints = append(c.Endpoints, e)
			}
		},
	})
}

// tlsFiles decodes a tls: mapping, distribution's way (rootcas,
// certificate, key), into out and loads the files, wherever the key is (an
// endpoint's, the relay's jetstream:), so that a bad file stops Parse, not
// a connection later. It returns the configuration they make, nil when
// they name none or cannot be loaded (then reported).
func (d *decoder) tlsFiles(out *TLSFiles, n *yaml.Node, key string) *tls.Config {
	d.mapping(n, key, fields{
		"rootcas":     d.filePaths(&out.RootCAs),
		"certificate": d.filePath(&out.Certificate),
		"key":         d.filePath(&out.Key),
	})
	if (out.Certificate == "") != (out.Key == "") {
		d.failf(n, key, ErrMissing, "certificate and key go together")
		return nil
	}
	cfg, err := out.Config()
	if err != nil {
		d.fail(n, key, err)
		return nil
	}
	return cfg
}

// filePaths decodes a list of file names.
func (d *decoder) filePaths(out *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		d.each(n, key, func(item *yaml.Node, ikey string) {
			var p string
			d.filePath(&p)(item, ikey)
			if p != "" {
				*out = append(*out, p)
			}
		})
	}
}
