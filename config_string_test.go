package notifications

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
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
