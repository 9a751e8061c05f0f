package relay

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications/config"
)

func TestFromConfig(t *testing.T) {
	a := newSink(t)
	log, _ := quiet()
	parse := func(yaml string) *config.Config {
		c, err := config.Parse("relay.yml", []byte(yaml), func(string) (string, bool) { return "", false })
		require.NoError(t, err)
		return c
	}
	r, err := FromConfig(parse(`
relay: {token: t0ken, dedupesize: 10}
notifications:
  endpoints:
    - {name: a, url: `+a.URL+`, threshold: 2}
    - {name: off, url: http://127.0.0.1:1/, disabled: true}
`), Options{Logger: log})
	require.NoError(t, err)
	require.Len(t, r.cfg.Targets, 1, "disabled endpoints are not opened")
	assert.Equal(t, 2, r.cfg.Targets[0].Endpoint.Threshold)
	assert.Nil(t, r.cfg.Tracker)
	url := httptestServer(t, r.Handler().ServeHTTP)
	assert.Equal(t, http.StatusUnauthorized, post(t, url, "", events("fc", 1)))
	assert.Equal(t, http.StatusOK, post(t, url, "t0ken", events("fc", 1)))
	require.NoError(t, r.Close())
	assert.Len(t, a.received(), 1)

	fleet, err := FromConfig(parse(`
relay: {jetstream: {url: "nats://127.0.0.1:1", stream: S, durable: d}}
notifications:
  endpoints: [{name: a, url: `+a.URL+`}]
`), Options{Logger: log})
	require.NoError(t, err)
	assert.NotNil(t, fleet.cfg.Tracker, "fleet mode tracks deliveries")
	require.NoError(t, fleet.Close())

	_, err = FromConfig(parse(`
notifications:
  endpoints:
    - {name: a, url: `+a.URL+`}
    - {name: bus, jetstream: {url: "nats://127.0.0.1:1"}}
`), Options{Logger: log})
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "relay.yml:5: "), err.Error())

	_, err = FromConfig(parse("notifications:\n  endpoints: [{name: a, url: http://a/, disabled: true}]\n"), Options{Logger: log})
	assert.ErrorContains(t, err, "no enabled endpoint")
}
