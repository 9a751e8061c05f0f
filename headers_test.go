package notifications

import (
	"net/http"
	"testing"

	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A header net/http refuses to send made every request fail, for ever:
// OpenEndpoint refuses it, naming the header and never its value.
func TestOpenEndpointRefusesHeadersNetHTTPCannotSend(t *testing.T) {
	tests := []struct {
		name    string
		headers http.Header
		want    string
	}{
		{"space in the name", http.Header{"X Tenant": {"secret"}}, `header name beginning "X" is not an HTTP token (byte 2 cannot be in one)`},
		{"colon in the name", http.Header{"X-Tenant:": {"secret"}}, `header name beginning "X-Tenant" is not an HTTP token (byte 9`},
		{"a whole header as the name", http.Header{"Authorization: Bearer secret": {""}}, `header name beginning "Authorization" is not an HTTP token`},
		{"empty name", http.Header{"": {"secret"}}, "empty header name"},
		{"first byte", http.Header{"(x)": {"secret"}}, "its first byte cannot be in one"},
		{"non-ASCII name", http.Header{"X-Größe": {"secret"}}, `header name beginning "X-Gr" is not an HTTP token`},
		{"line break in a value", http.Header{"Authorization": {"Bearer secret\n"}}, `header "Authorization" has a value with a control character`},
		{"carriage return in a value", http.Header{"X-Tenant": {"ok", "se\rcret"}}, `header "X-Tenant" has a value with a control character`},
		{"NUL in a value", http.Header{"X-Tenant": {"se\x00cret"}}, `header "X-Tenant" has a value with a control character`},
		// HTTP/2 refuses these, quoting the value in its error.
		{"Connection other than close", http.Header{"Connection": {"secret"}}, `header "Connection" may only be close or keep-alive`},
		{"two Connection values", http.Header{"Connection": {"close", "keep-alive"}}, `header "Connection" may only be close or keep-alive`},
		{"Upgrade", http.Header{"Upgrade": {"secret/1"}}, `header "Upgrade" cannot be sent`},
		{"Transfer-Encoding other than chunked", http.Header{"Transfer-Encoding": {"secret"}}, `header "Transfer-Encoding" may only be chunked`},
		{"lower-case connection", http.Header{"connection": {"secret"}}, `header "Connection" may only be close or keep-alive`},
		// net/http compares these exactly: "Chunked" fails every HTTP/2 request.
		{"Transfer-Encoding Chunked", http.Header{"Transfer-Encoding": {"Chunked"}}, `header "Transfer-Encoding" may only be chunked`},
		{"Upgrade Chunked", http.Header{"Upgrade": {"Chunked"}}, `header "Upgrade" cannot be sent`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := OpenEndpoint("hdr", "http://127.0.0.1:1/", EndpointConfig{Headers: tt.headers})
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Nil(t, e)
			assert.ErrorContains(t, err, tt.want)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestOpenEndpointTakesHeadersNetHTTPSends(t *testing.T) {
	headers := http.Header{
		"Authorization":     {"Bearer a.b-c_d~e+f/g="},
		"X-Tenant":          {"acme", "with a\ttab", "ünïcode", ""},
		"x-lower_case!#$%&": {"v"},
		"Connection":        {"Keep-Alive"},
	}
	rc := newReceiver(t, nil)
	e, err := OpenEndpoint("hdr", rc.URL, EndpointConfig{Headers: headers, Logger: testLogger()})
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("h", 1)...))
	require.NoError(t, e.Close())
	require.Len(t, rc.requestHeaders(), 1)
	got := rc.requestHeaders()[0]
	assert.Equal(t, headers["Authorization"], got["Authorization"])
	assert.Equal(t, headers["X-Tenant"], got["X-Tenant"])
	assert.Equal(t, []string{"v"}, got[http.CanonicalHeaderKey("x-lower_case!#$%&")])
}

// NewEndpoint cannot refuse: it logs the header and sends without it, so
// that the events are delivered.
func TestNewEndpointLeavesOutHeadersNetHTTPCannotSend(t *testing.T) {
	rc := newReceiver(t, nil)
	logger, hook := logtest.NewNullLogger()
	e := NewEndpoint("hdr", rc.URL, EndpointConfig{
		Headers: http.Header{"X Bad": {"secret"}, "X-Good": {"kept"}},
		Logger:  logger,
	})
	require.NoError(t, e.Write(testEvents("h", 2)...))
	require.NoError(t, e.Close())
	assert.Len(t, rc.received(), 2, "delivered")
	require.Len(t, rc.requestHeaders(), 1)
	assert.Equal(t, "kept", rc.requestHeaders()[0].Get("X-Good"))
	assert.NotContains(t, rc.requestHeaders()[0], "X Bad")
	var leftOut []string
	for _, entry := range hook.AllEntries() {
		if entry.Message == "notifications: endpoint sends without this header" {
			leftOut = append(leftOut, entry.Data["error"].(error).Error())
		}
	}
	require.Len(t, leftOut, 1, "each header left out is logged")
	assert.Contains(t, leftOut[0], `header name beginning "X"`)
	assert.NotContains(t, leftOut[0], "secret")
}
