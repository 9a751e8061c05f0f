package jetstream

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCapturesAll(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		{"registry.events.>", true},
		{"registry.>", true},
		{">", true},
		{"registry.events.*.*", true},
		{"registry.events.*.>", true},
		{"*.events.*.*", true},
		{"*.*.*.*", true},
		{"registry.events.push.>", false},
		{"registry.events.*.manifest", false},
		{"registry.events.*", false},
		{"registry.events.*.*.*", false},
		{"registry.events.>.x", false},
		{"registry.*", false},
		{"registry.events", false},
		{"other.>", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			assert.Equal(t, tt.want, capturesAll(tt.pattern, DefaultSubjectPrefix))
		})
	}
}
