package jsontime

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Encodable agrees with encoding/json at each edge it checks.
func TestEncodableAgreesWithEncodingJSON(t *testing.T) {
	day := 24 * 3600
	for _, tc := range []struct {
		name string
		t    time.Time
	}{
		{"zero", time.Time{}},
		{"now", time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)},
		{"year 0", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"year -1", time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"a second less than a day east", time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", day-1))},
		{"a day east", time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", day))},
		{"a second less than a day west", time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", -day+1))},
		{"a day west", time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", -day))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := json.Marshal(tc.t)
			assert.Equal(t, err == nil, Encodable(tc.t), "encoding/json: %v", err)
		})
	}
}
