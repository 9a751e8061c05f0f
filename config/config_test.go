package config

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
)

// secret is a well-formed Standard Webhooks secret (24 bytes).
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// env is the environment the tests' {env: NAME} secrets come from.
func env(name string) (string, bool) {
	v, ok := map[string]string{"CI_TOKEN": "Bearer s3cr3t", "RELAY_TOKEN": "s3cr3t\n", "WHSEC": secret, "EMPTY": ""}[name]
	return v, ok
}

// distributionBlock is the notifications section of distribution v3.1.2's
// documented config.yml, as an operator pastes it (headers filled in).
const distributionBlock = `
notifications:
  events:
    includereferences: true
  endpoints:
    - name: alistener
      disabled: false
      url: https://my.listener.com/event
      headers:
        Authorization: [Bearer abc]
        X-Many: [one, two]
      timeout: 1s
      threshold: 10
      backoff: 1s
      ignoredmediatypes:
        - application/octet-stream
      ignore:
        mediatypes:
           - application/vnd.oci.image.config.v1+json
        actions:
           - pull
`

func TestParseDistributionBlock(t *testing.T) {
	c, err := Parse("config.yml", []byte(distributionBlock), env)
	require.NoError(t, err)
	require.Len(t, c.Endpoints, 1)
	e := c.Endpoints[0]
	assert.True(t, c.IncludeReferences)
	assert.Equal(t, "alistener", e.Name)
	assert.Equal(t, 6, e.Line)
	assert.False(t, e.Disabled)
	assert.Equal(t, "https://my.listener.com/event", e.URL)
	assert.Equal(t, http.Header{"Authorization": {"Bearer abc"}, "X-Many": {"one", "two"}}, e.Config.Headers)
	assert.Equal(t, time.Second, e.Config.Timeout)
	assert.Equal(t, 10, e.Config.Threshold)
	assert.Equal(t, time.Second, e.Config.Backoff)
	assert.Equal(t, []string{"application/octet-stream", "application/vnd.oci.image.config.v1+json"}, e.Config.Ignore.MediaTypes)
	assert.Equal(t, []string{"pull"}, e.Config.Ignore.Actions)
	assert.Nil(t, e.Config.Transport)
	assert.Equal(t, DefaultListen, c.Relay.Listen)
}

func TestParseExtraKeys(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "whsec"), []byte(secret+"\n"), 0o600))
	file := filepath.Join(dir, "relay.yml")
	c, err := Parse(file, []byte(`
relay:
  listen: 0.0.0.0:6000
  operations: 127.0.0.1:9090
  token: {env: RELAY_TOKEN}
  secrets: [{file: whsec}, {env: WHSEC}]
  maxbodybytes: 1048576
  dedupesize: 500
  statusinterval: 30s
notifications:
  endpoints:
    - name: ci
      url: http://user:pw@ci.example/hooks
      headers: {Authorization: [{env: CI_TOKEN}]}
      timeout: 1500000000   # nanoseconds, as distribution reads a bare number
      maxbackoff: 1m
      maxeventage: 24h
      maxbatch: 100
      maxpending: 100000
      closetimeout: -1s
      spooldir: spool
      spoolsync: 100ms
      signingsecrets: [`+secret+`, {file: whsec}]
      blockprivatenetworks: true
      format: cloudevents
      ignore: {targettypes: [blob], repositories: ["library/*", scratch]}
    - name: bus
      disabled: true
      jetstream: {url: "nats://n1:4222,nats://n2:4222", subjectprefix: reg.events, createstream: EVENTS, duplicates: 10m, replicas: 3}
`), env)
	require.NoError(t, err)
	assert.Equal(t, Relay{Listen: "0.0.0.0:6000", Operations: "127.0.0.1:9090", Token: "s3cr3t",
		Secrets: []string{secret, secret}, MaxBodyBytes: 1 << 20, DedupeSize: 500, StatusInterval: 30 * time.Second}, c.Relay)
	require.Len(t, c.Endpoints, 2)
	ci := c.Endpoints[0].Config
	assert.Equal(t, notifications.EndpointConfig{
		Headers:              http.Header{"Authorization": {"Bearer s3cr3t"}},
		Timeout:              1500 * time.Millisecond,
		MaxBackoff:           time.Minute,
		MaxEventAge:          24 * time.Hour,
		MaxBatch:             100,
		MaxPending:           100000,
		CloseTimeout:         -time.Second,
		SpoolDir:             filepath.Join(dir, "spool"),
		SpoolSync:            100 * time.Millisecond,
		SigningSecrets:       []string{secret, secret},
		BlockPrivateNetworks: true,
		WireFormat:           notifications.FormatCloudEvents,
		Ignore:               notifications.IgnoreConfig{TargetTypes: []string{"blob"}, Repositories: []string{"library/*", "scratch"}},
	}, ci)
	bus := c.Endpoints[1]
	assert.True(t, bus.Disabled)
	assert.Equal(t, &JetStreamEndpoint{URL: "nats://n1:4222,nats://n2:4222", SubjectPrefix: "reg.events", CreateStream: "EVENTS", Duplicates: 10 * time.Minute, Replicas: 3}, bus.JetStream)
}

func TestParseFleet(t *testing.T) {
	c, err := Parse("relay.yml", []byte(`
relay:
  jetstream: {url: nats://127.0.0.1:4222, stream: REGISTRY_EVENTS, durable: relays, ackwait: 30s, maxackpending: 5000, filtersubjects: [registry.events.push.>]}
notifications:
  endpoints: [{name: ci, url: "http://127.0.0.1:1/"}]
`), env)
	require.NoError(t, err)
	assert.Equal(t, &JetStreamIngress{URL: "nats://127.0.0.1:4222", Stream: "REGISTRY_EVENTS", Durable: "relays",
		AckWait: 30 * time.Second, MaxAckPending: 5000, FilterSubjects: []string{"registry.events.push.>"}}, c.Relay.JetStream)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		line    int
		key     string
		kind    error
		message string // a part of the message
	}{
		{"unknown top key", "storage: {}\n", 1, "storage", ErrUnknownKey, ""},
		{"unknown endpoint key", "notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      thresold: 3\n", 5, "notifications.endpoints[0].thresold", ErrUnknownKey, ""},
		{"bad duration", "notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      timeout: 1x\n", 5, "notifications.endpoints[0].timeout", ErrBadValue, `"1x" is not a duration`},
		{"negative duration", "notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      backoff: -1s\n", 5, "notifications.endpoints[0].backoff", ErrBadValue, "negative"},
		{"bad count", "notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      threshold: many\n", 5, "notifications.endpoints[0].threshold", ErrBadValue, ""},
		{"bad bool", "notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      disabled: maybe\n", 5, "notifications.endpoints[0].disabled", ErrBadValue, ""},
		{"relative URL", "notifications:\n  endpoints:\n    - name: a\n      url: /hooks\n", 4, "notifications.endpoints[0].url", ErrBadValue, "not absolute"},
		{"ftp URL", "notifications:\n  endpoints:\n    - name: a\n      url: ftp://a/\n", 4, "notifications.endpoints[0].url", ErrBadValue, "not http or https"},
		{"URL password hidden", "notifications:\n  endpoints:\n    - name: a\n      url: //user:hunter2@a/\n", 4, "notifications.endpoints[0].url", ErrBadValue, "not absolute"},
		{"URL password with a slash", "notifications:\n  endpoints:\n    - name: a\n      url: https://user:hun/ter2@a/\n", 4, "notifications.endpoints[0].url", ErrBadValue, "percent-encode"},
		{"no URL", "notifications:\n  endpoints:\n    - name: a\n", 3, "notifications.endpoints[0].url", ErrMissing, ""},
		{"no name", "notifications:\n  endpoints:\n    - url: http://a/\n", 3, "notifications.endpoints[0].name", ErrMissing, ""},
		{"same name", "notifications:\n  endpoints:\n    - {name: a, url: http://a/}\n    - {name: a, url: http://b/}\n", 4, "notifications.endpoints[1].name", ErrBadValue, "line 3"},
		{"malformed secret", "notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      signingsecrets: [whsec_short]\n", 5, "notifications.endpoints[0].signingsecrets[0]", ErrBadValue, "malformed"},
		{"unset env", "notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      headers: {Authorization: [{env: NOPE}]}\n", 5, "notifications.endpoints[0].headers.Authorization[0]", ErrSecretSource, "NOPE is not set"},
		{"empty env", "relay:\n  token: {env: EMPTY}\n", 2, "relay.token", ErrSecretSource, "EMPTY"},
		{"missing file", "relay:\n  secrets: [{file: /nonexistent/whsec}]\n", 2, "relay.secrets[0]", ErrSecretSource, "/nonexistent/whsec"},
		{"env and file", "relay:\n  token: {env: CI_TOKEN, file: x}\n", 2, "relay.token", ErrBadValue, "exactly one"},
		{"empty token", "relay:\n  token: ''\n", 2, "relay.token", ErrBadValue, "remove the key"},
		{"token of nothing", "relay:\n  token:\n", 2, "relay.token", ErrBadValue, "remove the key"},
		{"token with a space", "relay:\n  token: {env: CI_TOKEN}\n", 2, "relay.token", ErrBadValue, "no spaces"},
		{"empty secret file", "relay:\n  token: {file: /dev/null}\n", 2, "relay.token", ErrSecretSource, "/dev/null is empty"},
		{"endless secret file", "relay:\n  secrets: [{file: /dev/zero}]\n", 2, "relay.secrets[0]", ErrSecretSource, "larger than 64 KiB"},
		{"bad pattern", "notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      ignore: {repositories: ['[']}\n", 5, "notifications.endpoints[0].ignore.repositories[0]", ErrBadValue, "pattern"},
		{"header line break", "notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      headers: {X: [\"a\\r\\nB: c\"]}\n", 5, "notifications.endpoints[0].headers.X[0]", ErrBadValue, "line break"},
		{"key twice", "relay:\n  listen: a:1\n  listen: b:2\n", 3, "relay.listen", ErrBadValue, "twice"},
		{"cert without key", "notifications:\n  endpoints:\n    - name: a\n      url: https://a/\n      tls: {certificate: c.pem}\n", 5, "notifications.endpoints[0].tls", ErrMissing, ""},
		{"missing CA", "notifications:\n  endpoints:\n    - name: a\n      url: https://a/\n      tls: {rootcas: [/nonexistent/ca.pem]}\n", 5, "notifications.endpoints[0].tls", ErrSecretSource, ""},
		{"fleet without stream", "relay:\n  jetstream: {url: nats://a:4222, durable: d}\n", 2, "relay.jetstream.stream", ErrMissing, ""},
		{"ackwait without a unit", "relay:\n  jetstream: {url: nats://a:4222, stream: s, durable: d, ackwait: 30}\n", 2, "relay.jetstream.ackwait", ErrBadValue, "30ns is shorter than 100ms"},
		{"endpoints not a list", "notifications:\n  endpoints: {name: a}\n", 2, "notifications.endpoints", ErrBadValue, ""},
		{"listen in fleet mode", "relay:\n  listen: 127.0.0.1:5050\n  jetstream: {url: nats://a:4222, stream: s, durable: d}\n", 2, "relay.listen", ErrBadValue, "fleet mode"},
		{"token in fleet mode", "relay:\n  jetstream: {url: nats://a:4222, stream: s, durable: d}\n  token: t\n", 3, "relay.token", ErrBadValue, "fleet mode"},
		{"maxbodybytes in fleet mode", "relay:\n  jetstream: {url: nats://a:4222, stream: s, durable: d}\n  maxbodybytes: 1000\n", 3, "relay.maxbodybytes", ErrBadValue, "fleet mode"},
		{"spool in fleet mode", "relay:\n  jetstream: {url: nats://a:4222, stream: s, durable: d}\nnotifications:\n  endpoints:\n    - {name: a, url: http://a/, spooldir: /tmp/x}\n", 5, "notifications.endpoints[0].spooldir", ErrBadValue, "no spool in fleet mode"},
		{"unknown format", "notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      format: xml\n", 5, "notifications.endpoints[0].format", ErrBadValue, "envelope or cloudevents"},
		{"format twice", "notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      format: envelope\n      wireformat: cloudevents\n", 6, "notifications.endpoints[0].wireformat", ErrBadValue, "same setting"},
		{"url and jetstream", "notifications:\n  endpoints:\n    - {name: a, url: http://a/, jetstream: {url: nats://a}}\n", 3, "notifications.endpoints[0]", ErrBadValue, "both"},
		{"too many replicas", "notifications:\n  endpoints:\n    - {name: a, jetstream: {url: nats://a, createstream: S, replicas: 7}}\n", 3, "notifications.endpoints[0].jetstream.replicas", ErrBadValue, "more than NATS's 5"},
		{"replicas without stream", "notifications:\n  endpoints:\n    - {name: a, jetstream: {url: nats://a, replicas: 3}}\n", 3, "notifications.endpoints[0].jetstream.createstream", ErrMissing, "do nothing"},
		{"duplicates without stream", "notifications:\n  endpoints:\n    - {name: a, jetstream: {url: nats://a, duplicates: 1m}}\n", 3, "notifications.endpoints[0].jetstream.createstream", ErrMissing, "do nothing"},
		{"timeout without a unit", "notifications:\n  endpoints:\n    - {name: a, url: http://a/, timeout: 30}\n", 3, "notifications.endpoints[0].timeout", ErrBadValue, "30ns is shorter than 1ms"},
		{"maxeventage without a unit", "notifications:\n  endpoints:\n    - {name: a, url: http://a/, maxeventage: 86400}\n", 3, "notifications.endpoints[0].maxeventage", ErrBadValue, "86.4µs is shorter than 1s"},
		{"duplicates without a unit", "notifications:\n  endpoints:\n    - {name: a, jetstream: {url: nats://a, createstream: S, duplicates: 120}}\n", 3, "notifications.endpoints[0].jetstream.duplicates", ErrBadValue, "120ns is shorter than 100ms"},
		{"guard on jetstream", "notifications:\n  endpoints:\n    - {name: a, blockprivatenetworks: true, jetstream: {url: nats://a}}\n", 3, "notifications.endpoints[0].blockprivatenetworks", ErrBadValue, "webhooks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("relay.yml", []byte(tt.yaml), env)
			require.Error(t, err)
			assert.Nil(t, c, "nothing to start from")
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "relay.yml", ce.File)
			assert.Equal(t, tt.line, ce.Line)
			assert.Equal(t, tt.key, ce.Key)
			assert.ErrorIs(t, err, tt.kind)
			assert.Contains(t, err.Error(), tt.message)
			assert.True(t, strings.HasPrefix(err.Error(), "relay.yml:"), err.Error())
			for _, confidential := range []string{"hunter2", "s3cr3t", secret} {
				assert.NotContains(t, err.Error(), confidential)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse("relay.yml", []byte("notifications:\n  endpoints:\n    - name: a\n      url: http://a/\n      timeout: soon\n      backoff: later\n"), env)
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	assert.Len(t, joined.Unwrap(), 2)
}

func TestParseNotYAML(t *testing.T) {
	_, err := Parse("relay.yml", []byte("notifications: [\n"), env)
	var ce *Error
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), "relay.yml")
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	var ce *Error
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestSecretsNeverInErrors(t *testing.T) {
	// A malformed secret read from the environment is named by its key,
	// never shown.
	_, err := Parse("relay.yml", []byte("relay:\n  secrets: [{env: CI_TOKEN}]\n"), env)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t")
	assert.Contains(t, err.Error(), "relay.secrets[0]")
}
