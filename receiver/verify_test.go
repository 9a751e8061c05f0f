package receiver

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerifier(t *testing.T) {
	old, current := testSecret("old"), testSecret("current")
	v, err := NewVerifier([]string{current}, time.Minute)
	require.NoError(t, err)
	body := envelope(t, "a")
	now := time.Now()
	tests := []struct {
		name    string
		r       *http.Request
		at      time.Time
		wantErr error
	}{
		{"rotating sender", newRequest(t, body, now, old, current), now, nil},
		{"old key only", newRequest(t, body, now, old), now, ErrSignatureMismatch},
		{"unsigned", newRequest(t, body, now), now, ErrMissingHeader},
		{"late", newRequest(t, body, now, current), now.Add(2 * time.Minute), ErrTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(tt.r.Header, body, tt.at)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
	none, err := NewVerifier(nil, 0)
	require.NoError(t, err)
	assert.Nil(t, none, "no secrets: nothing to verify")
}
