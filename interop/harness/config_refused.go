package harness

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications/config"
)

// refusedByUs are sections the registry reads and config.Parse refuses, on
// purpose: Parse checks everything before anything starts, and unknown keys
// are errors (config's package documentation, README "Next to an existing
// registry"). Each refusal names the key at fault; nothing runs with a
// setting other than the one written.
var refusedByUs = []struct {
	name, endpoint string // endpoint: an item of notifications.endpoints
	key            string // under notifications.endpoints[0]
	kind           error
}{
	// The registry reads -1s and runs with its default (1s); a negative
	// duration has no meaning, and TestParseErrors refuses it.
	{"negative timeout", "{name: a, url: 'http://127.0.0.1:8081/', timeout: -1s}", "timeout", config.ErrBadValue},
	{"negative threshold", "{name: a, url: 'http://127.0.0.1:8081/', threshold: -1}", "threshold", config.ErrBadValue},
	// yaml.v2 truncates a float to whole nanoseconds (1.5 is 1ns, 1e9 is
	// 1s); a duration is a Go duration or an integer of nanoseconds.
	{"fraction of a nanosecond", "{name: a, url: 'http://127.0.0.1:8081/', backoff: 1.5}", "backoff", config.ErrBadValue},
	{"float nanoseconds", "{name: a, url: 'http://127.0.0.1:8081/', timeout: 1e9}", "timeout", config.ErrBadValue},
	{"float threshold", "{name: a, url: 'http://127.0.0.1:8081/', threshold: 2.0}", "threshold", config.ErrBadValue},
	// The registry ignores a key it does not know: a typo silently
	// leaves the default.
	{"misspelled key", "{name: a, url: 'http://127.0.0.1:8081/', thresold: 3}", "thresold", config.ErrUnknownKey},
	{"capitalised key", "{name: a, url: 'http://127.0.0.1:8081/', Timeout: 3s}", "Timeout", config.ErrUnknownKey},
	// The registry takes the last value.
	{"key given twice", "{name: a, url: 'http://127.0.0.1:8081/', timeout: 1s, timeout: 2s}", "timeout", config.ErrBadValue},
	// The registry opens it and fails every request.
	{"URL without a scheme", "{name: a, url: '127.0.0.1:8081/events'}", "url", config.ErrBadValue},
	// Endpoint.Name: required and unique; disabled endpoints are checked too.
	{"no name", "{url: 'http://127.0.0.1:8081/'}", "name", config.ErrMissing},
	{"disabled without a URL", "{name: a, disabled: true}", "url", config.ErrMissing},
}

// CheckRefusedByUs checks that the registry reads each of refusedByUs and
// config.Parse refuses it, naming the key.
func CheckRefusedByUs(t *testing.T, parse ParseRegistry) {
	for _, c := range refusedByUs {
		t.Run(c.name, func(t *testing.T) {
			section := "notifications:\n  endpoints:\n    - " + c.endpoint + "\n"
			_, err := parse(t, registryFile+section)
			require.NoError(t, err, "the registry reads it")
			_, err = config.Parse("relay.yml", []byte(section), noEnv)
			var ce *config.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "notifications.endpoints[0]."+c.key, ce.Key)
			assert.ErrorIs(t, err, c.kind)
		})
	}
}

// refusedByRegistry are sections the registry refuses and config.Parse
// reads, as its documentation says: a lone value where the registry wants
// a list (decode.go's list and headers).
var refusedByRegistry = []struct {
	name, endpoint string
	got            func(e config.Endpoint) any // the setting ours read
	want           any
}{
	{"lone header value", "{name: a, url: 'http://127.0.0.1:8081/', headers: {X-Token: abc}}",
		func(e config.Endpoint) any { return e.Config.Headers }, http.Header{"X-Token": {"abc"}}},
	{"lone ignored media type", "{name: a, url: 'http://127.0.0.1:8081/', ignoredmediatypes: application/octet-stream}",
		func(e config.Endpoint) any { return e.Config.Ignore.MediaTypes }, []string{"application/octet-stream"}},
	{"lone ignored action", "{name: a, url: 'http://127.0.0.1:8081/', ignore: {actions: pull}}",
		func(e config.Endpoint) any { return e.Config.Ignore.Actions }, []string{"pull"}},
}

// CheckRefusedByRegistry checks that the registry refuses each of
// refusedByRegistry and config.Parse reads it.
func CheckRefusedByRegistry(t *testing.T, parse ParseRegistry) {
	for _, c := range refusedByRegistry {
		t.Run(c.name, func(t *testing.T) {
			section := "notifications:\n  endpoints:\n    - " + c.endpoint + "\n"
			_, err := parse(t, registryFile+section)
			require.Error(t, err, "the registry refuses it")
			ours, err := config.Parse("relay.yml", []byte(section), noEnv)
			require.NoError(t, err)
			require.Len(t, ours.Endpoints, 1)
			assert.Equal(t, c.want, c.got(ours.Endpoints[0]))
		})
	}
}

// CheckWholeRegistryFile: config.Parse reads a relay's file, into which
// the registry's notifications section is pasted (README "Next to an
// existing registry"), not the registry's config.yml: given the whole
// registry file, the only problems are its other sections, unknown keys.
func CheckWholeRegistryFile(t *testing.T, parse ParseRegistry) {
	doc := registryFile + completeNotifications
	reg, err := parse(t, doc)
	require.NoError(t, err)
	require.Len(t, reg.Endpoints, 3)
	_, err = config.Parse("config.yml", []byte(doc), noEnv)
	var joined interface{ Unwrap() []error }
	require.ErrorAs(t, err, &joined)
	var unknown []string
	for _, problem := range joined.Unwrap() {
		var ce *config.Error
		require.ErrorAs(t, problem, &ce)
		assert.ErrorIs(t, problem, config.ErrUnknownKey)
		unknown = append(unknown, ce.Key)
	}
	assert.Equal(t, []string{"version", "log", "storage", "http"}, unknown)
	assert.False(t, errors.Is(err, config.ErrBadValue), "the notifications section itself is read")
}
