package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/textproto"
	"os"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/internal/stdwebhooks"
)

// endpoint decodes one notifications.endpoints entry: distribution's keys,
// then regnotify's.
func (d *decoder) endpoint(n *yaml.Node, key string) Endpoint {
	n = resolve(n)
	e := Endpoint{}
	if n != nil {
		e.Line = n.Line
	}
	c := &e.Config
	var tlsConfig *tls.Config // loaded from e.TLS
	formats := 0              // format: and wireformat: are one setting
	d.mapping(n, key, fields{
		// distribution's keys
		"name":              d.str(&e.Name),
		"disabled":          d.boolean(&e.Disabled),
		"url":               func(n *yaml.Node, key string) { e.URL = d.endpointURL(n, key) },
		"headers":           d.headers(&c.Headers),
		"timeout":           d.atLeast(&c.Timeout, minEndpointTimeout),
		"threshold":         d.count(&c.Threshold),
		"backoff":           d.duration(&c.Backoff, false),
		"ignoredmediatypes": d.list(&c.Ignore.MediaTypes, nil),
		"ignore": func(n *yaml.Node, key string) {
			d.mapping(n, key, fields{
				"mediatypes":   d.list(&c.Ignore.MediaTypes, nil),
				"actions":      d.list(&c.Ignore.Actions, nil),
				"targettypes":  d.list(&c.Ignore.TargetTypes, nil),
				"repositories": d.list(&c.Ignore.Repositories, checkPattern),
			})
		},
		// regnotify's keys: the other EndpointConfig fields
		"maxbackoff":           d.duration(&c.MaxBackoff, false),
		"maxeventage":          d.atLeast(&c.MaxEventAge, minMaxEventAge),
		"maxbatch":             d.count(&c.MaxBatch),
		"maxpending":           d.count(&c.MaxPending),
		"closetimeout":         d.duration(&c.CloseTimeout, true),
		"spooldir":             d.filePath(&c.SpoolDir),
		"spoolsync":            d.duration(&c.SpoolSync, false),
		"signingsecrets":       d.secrets(&c.SigningSecrets, checkSecret),
		"blockprivatenetworks": d.boolean(&c.BlockPrivateNetworks),
		"format":               d.format(&c.WireFormat, &formats),
		"wireformat":           d.format(&c.WireFormat, &formats), // the field's name; format: as the issue and README say
		"tls":                  func(n *yaml.Node, key string) { tlsConfig = d.tlsFiles(&e.TLS, n, key) },
		"jetstream":            func(n *yaml.Node, key string) { e.JetStream = d.jetStreamEndpoint(n, key) },
	})
	switch {
	case e.Name == "":
		d.failf(n, join(key, "name"), ErrMissing, "every endpoint needs a name")
	case e.URL == "" && e.JetStream == nil:
		d.failf(n, join(key, "url"), ErrMissing, "endpoint %q needs a url (or jetstream)", e.Name)
	case e.URL != "" && e.JetStream != nil:
		d.failf(n, key, ErrBadValue, "endpoint %q has both url and jetstream", e.Name)
	case e.JetStream != nil && c.BlockPrivateNetworks:
		// NATS dials on its own: no guard would run, and the setting
		// would be silently without effect.
		d.failf(n, join(key, "blockprivatenetworks"), ErrBadValue, "endpoint %q: the private-network guard is for webhooks, not jetstream", e.Name)
	}
	if tlsConfig != nil && e.JetStream == nil { // a jetstream endpoint connects with e.TLS itself
		c.Transport = http.DefaultTransport.(*http.Transport).Clone()
		c.Transport.TLSClientConfig = tlsConfig
		if c.BlockPrivateNetworks {
			// The endpoint dials through its guard, which refuses a
			// transport with a dial function of its own.
			c.Transport.DialContext = nil
		}
	}
	return e
}

// endpointURL checks a URL as OpenEndpoint does. Its messages never show
// the URL: a password may be in it.
func (d *decoder) endpointURL(n *yaml.Node, key string) string {
	s, ok := d.scalar(n, key)
	if !ok {
		return ""
	}
	if err := notifications.CheckURL(s); err != nil {
		d.fail(n, key, fmt.Errorf("%w: %w", ErrBadValue, err))
		return ""
	}
	return s
}

// headers decodes distribution's headers: a mapping of names to lists of
// values (a lone value is accepted too); each value may be a secret source.
func (d *decoder) headers(out *http.Header) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		n = resolve(n)
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.failf(n, key, ErrBadValue, "want a mapping of header names to lists of values")
			return
		}
		h := http.Header{}
		for _, p := range d.pairs(n, key) {
			k, v := p.key, p.value
			name := k.Value
			hkey := join(key, name)
			if name == "" || strings.ContainsAny(name, " \t\r\n:") {
				d.failf(k, hkey, ErrBadValue, "not a header name")
				continue
			}
			var values []string
			d.secrets(&values, checkHeaderValue)(v, hkey)
			canonical := textproto.CanonicalMIMEHeaderKey(name)
			h[canonical] = append(h[canonical], values...)
		}
		*out = h
	}
}

// jetStreamEndpoint decodes the jetstream: key of an endpoint.
func (d *decoder) jetStreamEndpoint(n *yaml.Node, key string) *JetStreamEndpoint {
	js := &JetStreamEndpoint{}
	d.mapping(n, key, fields{
		"url":           d.str(&js.URL),
		"subjectprefix": d.str(&js.SubjectPrefix),
		"credentials":   d.filePath(&js.Credentials),
		"createstream":  d.str(&js.CreateStream),
		"duplicates":    d.atLeast(&js.Duplicates, MinStreamDuplicates),
		"replicas":      d.count(&js.Replicas),
	})
	if js.URL == "" {
		d.failf(n, join(key, "url"), ErrMissing, "a jetstream endpoint needs the NATS url")
	}
	if js.Replicas > MaxStreamReplicas {
		d.failf(n, join(key, "replicas"), ErrBadValue, "%d is more than NATS's %d", js.Replicas, MaxStreamReplicas)
	}
	if js.CreateStream == "" && (js.Duplicates != 0 || js.Replicas != 0) {
		d.failf(n, join(key, "createstream"), ErrMissing, "duplicates and replicas configure the stream createstream names: without it they do nothing")
	}
	return js
}

// format decodes the wire format of an endpoint (EndpointConfig.WireFormat):
// envelope (the default) or cloudevents. *seen counts the keys that set it.
func (d *decoder) format(out *notifications.Format, seen *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		if *seen++; *seen > 1 {
			d.failf(n, key, ErrBadValue, "format and wireformat are the same setting: give one")
			return
		}
		s, ok := d.scalar(n, key)
		if !ok {
			return
		}
		switch f := notifications.Format(s); f {
		case "", notifications.FormatEnvelope, notifications.FormatCloudEvents:
			*out = f
		default:
			d.failf(n, key, ErrBadValue, "%q is not %s or %s", s, notifications.FormatEnvelope, notifications.FormatCloudEvents)
		}
	}
}

// checkSecret vets a Standard Webhooks secret without showing it.
func checkSecret(s string) error {
	if _, err := stdwebhooks.ParseSecret(s); err != nil {
		return fmt.Errorf("%w: %w", ErrBadValue, err)
	}
	return nil
}

// checkPattern refuses what path.Match cannot take as a pattern.
func checkPattern(s string) error {
	if _, err := path.Match(s, ""); err != nil {
		return fmt.Errorf("%w: pattern %q: %v", ErrBadValue, s, err)
	}
	return nil
}

// checkHeaderValue refuses values that would split a request's headers.
func checkHeaderValue(s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return fmt.Errorf("%w: header value holds a line break or NUL", ErrBadValue)
	}
	return nil
}

// Config returns the TLS client configuration the files describe, or nil
// when they name none.
func (f TLSFiles) Config() (*tls.Config, error) {
	if len(f.RootCAs) == 0 && f.Certificate == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(f.RootCAs) > 0 {
		pool := x509.NewCertPool()
		for _, file := range f.RootCAs {
			pem, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrSecretSource, err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrBadValue, file)
			}
		}
		cfg.RootCAs = pool
	}
	if f.Certificate != "" {
		cert, err := tls.LoadX509KeyPair(f.Certificate, f.Key)
		var unreadable *fs.PathError
		if errors.As(err, &unreadable) { // a file cannot be read, as opposed to files that do not make a pair
			return nil, fmt.Errorf("%w: client certificate %s and key %s: %w", ErrSecretSource, f.Certificate, f.Key, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: client certificate %s and key %s: %v", ErrBadValue, f.Certificate, f.Key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
