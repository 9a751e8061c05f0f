package notifications

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenEndpointRefusesURLsThatCannotBeDialled(t *testing.T) {
	tests := []struct {
		url     string
		block   bool   // BlockPrivateNetworks
		wantErr string // "" when accepted
		blocked bool   // the error wraps ErrBlockedAddress too
	}{
		{"https://hooks.example:99999999999/", false, "port", false},
		{"https://hooks.example:65536/", false, "port", false},
		{"https://hooks.example:0/", false, "port", false},
		{"https://alice9:Zqx9@hooks.example:70000/", false, "port", false},
		{"https://hooks.example:70000/hooks/ci?token=q5tok", false, "port", false},
		{"http://:80/hooks/ci?token=q5tok", false, "no host name", false},
		{"http://:80/", false, "no host name", false},
		{"http://[]:80/", false, "", false}, // url.Parse's own error
		{"https://hooks.example:65535/", false, "", false},
		{"https://hooks.example:1/", false, "", false},
		{"https://hooks.example:/", false, "", false}, // the scheme's port
		{"http://127.0.0.1:8080/", true, "127.0.0.1 is loopback", true},
		{"http://[::1]/", true, "::1 is loopback", true},
		{"http://169.254.169.254/latest/meta-data", true, "169.254.169.254 is link-local", true},
		{"http://127.0.0.1:8080/", false, "", false},
		{"https://8.8.8.8/", true, "", false},
		{"https://hooks.example/", true, "", false}, // names are checked when dialled
	}
	for _, tt := range tests {
		config := EndpointConfig{BlockPrivateNetworks: tt.block}
		err := validateEndpoint("hook", tt.url, config)
		if tt.wantErr == "" && tt.url != "http://[]:80/" {
			assert.NoError(t, err, tt.url)
			continue
		}
		require.ErrorIs(t, err, ErrInvalidConfig, tt.url)
		assert.Contains(t, err.Error(), tt.wantErr, tt.url)
		assert.Equal(t, tt.blocked, errors.Is(err, ErrBlockedAddress), tt.url)
		assertNoUserinfo(t, err.Error(), "the error")
		assert.NotContains(t, err.Error(), tt.url, "the error quotes the URL")
		for _, part := range []string{"/hooks/ci", "q5tok", "meta-data"} {
			assert.NotContains(t, err.Error(), part, "the error quotes the URL's path or query")
		}
	}
}

func TestUndialableURLIsGivenUpNotRetried(t *testing.T) {
	d := newHTTPDeliverer("https://hooks.example:99999999999/", fastConfig())
	defer d.Close()
	got := d.Deliver(t.Context(), testEvents("p", 1))
	assert.Equal(t, Reject, got.Outcome, "retrying cannot help")
	assert.Contains(t, got.Err.Error(), "port")
}
