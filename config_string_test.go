package notifications

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"
)

func TestConfigPrintingHidesCredentials(t *testing.T) {
	config := EndpointConfig{
		Headers:        http.Header{"Authorization": {"Bearer topsecret-value"}},
		SigningSecrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		Threshold:      3,
	}
	e := NewEndpoint("printed", "http://127.0.0.1:1/", config)
	defer e.Close()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, value := range []any{config, &config, e} {
			out := fmt.Sprintf(verb, value)
			assert.NotContains(t, out, "topsecret", "%s of %T", verb, value)
			assert.NotContains(t, out, "MfKQ9r8", "%s of %T", verb, value)
		}
	}
	assert.Contains(t, config.String(), "Authorization")
	assert.Contains(t, config.String(), "Threshold:3")
}

func TestConfigEncodingsHideCredentials(t *testing.T) {
	config := EndpointConfig{
		Headers:        http.Header{"Authorization": {"Bearer topsecret-value"}, "X-Two": {"topsecret-a", "topsecret-b"}},
		SigningSecrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		Threshold:      3,
	}
	e := NewEndpoint("encoded", "http://127.0.0.1:1/", config)
	defer e.Close()

	for _, value := range []any{config, &config, e, *e, struct{ C EndpointConfig }{config}} {
		out, err := json.Marshal(value)
		require.NoError(t, err, "%T", value)
		assert.NotContains(t, string(out), "topsecret", "json.Marshal of %T", value)
		assert.NotContains(t, string(out), "MfKQ9r8", "json.Marshal of %T", value)
		assert.Contains(t, string(out), "Authorization", "header names stay visible: %T", value)
	}

	var decoded struct {
		Headers   map[string][]string
		Threshold int
	}
	out, err := json.Marshal(config)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(out, &decoded))
	assert.Equal(t, map[string][]string{"Authorization": {redactedValue}, "X-Two": {redactedValue, redactedValue}}, decoded.Headers)
	assert.Equal(t, 3, decoded.Threshold, "the other fields keep their encoding")

	var buf bytes.Buffer
	logger := logrus.New()
	logger.SetOutput(&buf)
	logger.SetFormatter(&logrus.JSONFormatter{})
	logger.WithField("config", config).WithField("endpoint", e).Info("configured")
	assert.NotContains(t, buf.String(), "topsecret", "logrus JSONFormatter")
	assert.Contains(t, buf.String(), "Authorization")

	buf.Reset()
	logger.SetFormatter(&logrus.TextFormatter{DisableColors: true})
	logger.WithField("config", config).WithField("endpoint", e).Info("configured")
	assert.NotContains(t, buf.String(), "topsecret", "logrus TextFormatter")

	published, err := json.Marshal(e.published())
	require.NoError(t, err)
	assert.NotContains(t, string(published), "topsecret", "expvar")
}

func TestConfigEveryVerbHidesCredentials(t *testing.T) {
	config := EndpointConfig{Headers: http.Header{"Authorization": {"Bearer topsecret-value"}}}
	e := NewEndpoint("verbs", "http://127.0.0.1:1/", config)
	defer e.Close()
	for _, verb := range []string{"%d", "%x", "%X", "%q", "%t", "%8.3f", "%e", "%o", "%U", "%c", "%b", "%+d", "%#x"} {
		for _, value := range []any{config, &config, e, []EndpointConfig{config}, map[string]*Endpoint{"e": e}} {
			out := fmt.Sprintf(verb, value)
			assert.NotContains(t, out, "topsecret", "%s of %T", verb, value)
			assert.NotContains(t, out, "746f70736563726574", "%s of %T, hex", verb, value)
			assert.NotContains(t, out, "746F70736563726574", "%s of %T, HEX", verb, value)
		}
	}
}

// YAML, as an operator prints an effective configuration: the settings,
// never a header value or a secret; an Endpoint encodes as its
// configuration.
func TestConfigYAMLHidesCredentials(t *testing.T) {
	config := EndpointConfig{
		Headers:        http.Header{"Authorization": {"Bearer topsecret-value"}},
		SigningSecrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		StatusPolicy:   DefaultStatusPolicy,
		OnFinished:     func(Finished) {},
		Timeout:        5 * time.Second,
		Threshold:      3,
		Ignore:         IgnoreConfig{Actions: []string{EventActionPull}},
	}
	e := NewEndpoint("yaml", "http://127.0.0.1:1/", config)
	defer e.Close()
	for _, value := range []any{config, &config, e} {
		out, err := yaml.Marshal(value)
		require.NoError(t, err, "%T", value)
		assert.NotContains(t, string(out), "topsecret", "%T", value)
		assert.NotContains(t, string(out), "MfKQ9r8", "%T", value)
		for _, want := range []string{"Authorization", "timeout: 5s", "threshold: 3", "- pull", "signingsecrets:\n    - <redacted>"} {
			assert.Contains(t, string(out), want, "%T", value)
		}
	}
}

// Every field of EndpointConfig is either in what MarshalYAML writes or
// one it leaves out on purpose: a field added to the configuration must be
// placed here, redacted if it can hold a credential.
func TestConfigYAMLCoversEveryField(t *testing.T) {
	leftOut := map[string]bool{
		"DeadLetter": true, "BackoffPolicy": true, "StatusPolicy": true, "OnFinished": true,
		"Transport": true, "Logger": true,
	}
	view, config := reflect.TypeFor[endpointConfigYAML](), reflect.TypeFor[EndpointConfig]()
	for i := range config.NumField() {
		field := config.Field(i)
		_, written := view.FieldByName(field.Name)
		assert.True(t, written != leftOut[field.Name], "EndpointConfig.%s: written %t, left out %t", field.Name, written, leftOut[field.Name])
	}
}
