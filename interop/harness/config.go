package harness

import (
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/config"
)

// RegistryNotifications is the notifications section as a registry's own
// configuration.Parse reports it, in a shape both releases share.
type RegistryNotifications struct {
	IncludeReferences bool
	Endpoints         []RegistryEndpoint
}

// RegistryEndpoint is one configuration.Endpoint (the same fields in
// v2.8.3 and v3.1.2).
type RegistryEndpoint struct {
	Name     string
	Disabled bool
	URL      string
	// Headers are as parsed: names as written, not canonical.
	Headers http.Header
	// Retry holds timeout, threshold and backoff as parsed: zero when not
	// written.
	Retry Retry
	// Effective is what the registry's notifications.NewEndpoint runs
	// with (its defaults for zero values); zero for a disabled endpoint,
	// which the registry never opens.
	Effective         Retry
	IgnoredMediaTypes []string
	IgnoreMediaTypes  []string // ignore.mediatypes
	IgnoreActions     []string // ignore.actions
}

// Retry is an endpoint's timeout, threshold and backoff.
type Retry struct {
	Timeout   time.Duration
	Threshold int
	Backoff   time.Duration
}

// ParseRegistry parses a whole registry configuration file with a
// registry's own parser.
type ParseRegistry func(t *testing.T, doc string) (RegistryNotifications, error)

// registryFile is what a registry's config.yml holds before its
// notifications section: a realistic file, which the registry needs whole
// (version and storage are required).
const registryFile = `version: 0.1
log:
  level: info
  formatter: text
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:5000
  secret: fidelity
  headers:
    X-Content-Type-Options: [nosniff]
`

// completeNotifications sets every field distribution has, in several
// endpoints: multi-valued headers and values with commas, durations as Go
// durations and as integers of nanoseconds, a disabled endpoint, both ways
// of ignoring media types.
const completeNotifications = `notifications:
  events:
    includereferences: true
  endpoints:
    - name: ci
      url: http://127.0.0.1:8081/hooks/registry
      headers:
        Authorization: [Bearer ci-token]
        X-Many: [one, two, three]
        X-Commas: ["a, b", "c,d"]
      timeout: 500ms
      threshold: 5
      backoff: 1s
      ignoredmediatypes:
        - application/octet-stream
      ignore:
        mediatypes:
          - application/vnd.oci.image.config.v1+json
          - application/vnd.docker.container.image.v1+json
        actions: [pull, mount]
    - name: audit
      url: https://localhost:8443/audit?source=registry
      headers:
        X-Registry: [prod]
      timeout: 2m
      threshold: 3
      backoff: 2m
      ignore:
        actions: [delete]
    - name: legacy
      disabled: true
      url: http://[::1]:9000/events
      timeout: 1500000000
      threshold: 20
      backoff: 250000000
      ignoredmediatypes: [application/vnd.docker.distribution.manifest.v1+prettyjws]
`

// configCases are notifications sections both parsers must read to the
// same settings. Each is appended to registryFile for the registry; the
// relay is given the section alone, as the README says to paste it
// (CheckWholeRegistryFile says why).
var configCases = []struct {
	name, notifications string
}{
	{"complete", completeNotifications},
	{"no timeout, threshold or backoff", `notifications:
  endpoints:
    - name: bare
      url: http://127.0.0.1:8081/
    - name: zeros
      url: http://127.0.0.1:8082/
      timeout: 0
      threshold: 0
      backoff: 0s
`},
	{"integer durations", `notifications:
  endpoints:
    - {name: decimal, url: "http://127.0.0.1:8081/", timeout: 1500000000, backoff: 250000000}
    - {name: hex, url: "http://127.0.0.1:8082/", timeout: 0x3b9aca00, backoff: 0b1010}
    - {name: octal, url: "http://127.0.0.1:8083/", timeout: 010000000000, backoff: 0o17}
    - {name: underscores, url: "http://127.0.0.1:8084/", timeout: 1_000_000_000, backoff: +5}
    - {name: units, url: "http://127.0.0.1:8085/", timeout: 1h1m1s1ms1us1ns, backoff: 1.5s}
`},
	{"disabled", `notifications:
  events:
    includereferences: yes
  endpoints:
    - {name: "true", disabled: true, url: "http://127.0.0.1:8081/"}
    - {name: "yes", disabled: yes, url: "http://127.0.0.1:8082/"}
    - {name: "On", disabled: On, url: "http://127.0.0.1:8083/"}
    - {name: "false", disabled: false, url: "http://127.0.0.1:8084/"}
    - {name: "no", disabled: no, url: "http://127.0.0.1:8085/"}
    - {name: "OFF", disabled: OFF, url: "http://127.0.0.1:8086/"}
    - {name: "null", disabled: ~, url: "http://127.0.0.1:8087/"}
`},
	{"headers", `notifications:
  endpoints:
    - {name: empty, url: "http://127.0.0.1:8081/", headers: {}}
    - {name: nil, url: "http://127.0.0.1:8082/", headers: ~}
    - name: values
      url: http://127.0.0.1:8083/
      headers:
        X-No-Values: []
        X-Null: ~
        X-Commas: ["a, b", 'c,d', e]
        X-Quoted: ['W/"tag", q=0.5']
        X-Scalars: [1, true, yes, 0x10, ~, ""]
        x-lower-case: [lower]
        X-Case: [a]
        x-case: [b]
`},
	{"no endpoints", `notifications:
  events:
    includereferences: false
  endpoints: []
`},
	{"empty section", `notifications: {}
`},
	{"anchors and merge keys", `notifications:
  endpoints:
    - &base
      name: base
      url: http://127.0.0.1:8081/
      headers: &headers
        Authorization: [Bearer shared]
      timeout: &timeout 3s
      threshold: 4
      ignore: {actions: [pull]}
    - <<: *base
      name: merged
      backoff: *timeout
    - timeout: 9s
      <<: *base
      name: replaced
      url: http://127.0.0.1:8082/
    - <<: [{name: listed, threshold: 7}, *base]
      headers: {<<: *headers, X-Extra: [more]}
`},
}

// CheckConfigAgrees feeds every case, appended to a whole registry file,
// to the registry's parser and the case's notifications section to
// config.Parse, and checks they agree on every field the registry has.
func CheckConfigAgrees(t *testing.T, parse ParseRegistry) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			reg, err := parse(t, registryFile+c.notifications)
			require.NoError(t, err, "the registry reads it")
			ours, err := config.Parse("relay.yml", []byte(c.notifications), noEnv)
			require.NoError(t, err, "the relay reads it")
			checkAgree(t, reg, ours)
		})
	}
}

// checkAgree asserts that ours means what the registry parsed.
func checkAgree(t *testing.T, reg RegistryNotifications, ours *config.Config) {
	assert.Equal(t, reg.IncludeReferences, ours.IncludeReferences, "includereferences")
	var regNames, ourNames []string
	for _, e := range reg.Endpoints {
		regNames = append(regNames, e.Name)
	}
	for _, e := range ours.Endpoints {
		ourNames = append(ourNames, e.Name)
	}
	require.Equal(t, regNames, ourNames, "the endpoints, in order")
	for i, re := range reg.Endpoints {
		oe := ours.Endpoints[i]
		c := oe.Config
		assert.Equal(t, re.URL, oe.URL, "%s: url", re.Name)
		assert.Equal(t, re.Disabled, oe.Disabled, "%s: disabled", re.Name)
		assertSameHeaders(t, re.Name, re.Headers, c.Headers)
		// Both leave zero what is not written; both endpoints then run
		// with the same defaults (checked below).
		assert.Equal(t, re.Retry, Retry{c.Timeout, c.Threshold, c.Backoff}, "%s: timeout, threshold and backoff as parsed", re.Name)
		// The registry appends ignoredmediatypes to ignore.mediatypes
		// (notifications.NewEndpoint); ours keeps the file's order. Each
		// is a set.
		assert.ElementsMatch(t, append(append([]string(nil), re.IgnoreMediaTypes...), re.IgnoredMediaTypes...), c.Ignore.MediaTypes, "%s: ignored media types", re.Name)
		assert.ElementsMatch(t, re.IgnoreActions, c.Ignore.Actions, "%s: ignore.actions", re.Name)

		// Nothing else is set: no key of the registry's means more to us.
		rest := c
		rest.Headers, rest.Timeout, rest.Threshold, rest.Backoff = nil, 0, 0, 0
		rest.Ignore.MediaTypes, rest.Ignore.Actions = nil, nil
		assert.Zero(t, rest, "%s: fields the registry does not have", re.Name)
		assert.Nil(t, oe.JetStream, re.Name)

		if re.Disabled {
			continue // neither opens it
		}
		ep, err := notifications.OpenEndpoint(oe.Name, oe.URL, c)
		require.NoError(t, err, re.Name)
		assert.Equal(t, re.Effective, Retry{ep.Timeout, ep.Threshold, ep.Backoff}, "%s: timeout, threshold and backoff the endpoint runs with", re.Name)
		require.NoError(t, ep.Close())
	}
}

// assertSameHeaders asserts that the registry's headers and ours put the
// same header lines on a request. The registry keeps names as written and
// sends each spelling apart, in map order; we send them under the
// canonical name, in the file's order. HTTP compares names without case,
// and a name without values is not sent.
func assertSameHeaders(t *testing.T, endpoint string, reg, ours http.Header) {
	t.Helper()
	want, spellings := http.Header{}, map[string]int{}
	for name, values := range reg {
		if len(values) > 0 {
			canonical := textproto.CanonicalMIMEHeaderKey(name)
			spellings[canonical]++
			want[canonical] = append(want[canonical], values...)
		}
	}
	got := http.Header{}
	for name, values := range ours {
		if len(values) > 0 {
			got[name] = values
		}
	}
	require.ElementsMatch(t, keys(want), keys(got), "%s: header names", endpoint)
	for name, values := range want {
		if spellings[name] > 1 {
			assert.ElementsMatch(t, values, got[name], "%s: header %s", endpoint, name)
		} else {
			assert.Equal(t, values, got[name], "%s: header %s, in order", endpoint, name)
		}
	}
}

// keys returns the names of h.
func keys(h http.Header) []string {
	var out []string
	for k := range h {
		out = append(out, k)
	}
	return out
}

// noEnv is config.Parse's lookup: the cases name no {env: NAME} secret.
func noEnv(string) (string, bool) { return "", false }

// RequireNoRegistryEnv fails the test when a REGISTRY_ variable is set:
// the registry's parser would take settings from it.
func RequireNoRegistryEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		require.False(t, strings.HasPrefix(kv, "REGISTRY_"), "the registry's parser reads %s", strings.SplitN(kv, "=", 2)[0])
	}
}
