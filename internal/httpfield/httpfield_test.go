package httpfield

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestInvalidNameByte(t *testing.T) {
	tests := []struct {
		name string
		want int
	}{
		{"X-Tenant", -1},
		{"x-lower_case!#$%&'*+.^`|~09", -1},
		{"", 0},
		{"X Tenant", 1},
		{"Authorization: Bearer t0ken", 13},
		{"X-Größe", 4},
		{"X-\x7f", 2},
		{"(x)", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, InvalidNameByte(tt.name))
		})
	}
}

func TestValidValue(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"", true},
		{"Bearer a.b-c", true},
		{"with a\ttab", true},
		{"ünïcode", true},
		{"line\nbreak", false},
		{"carriage\rreturn", false},
		{"nul\x00", false},
		{"del\x7f", false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			assert.Equal(t, tt.want, ValidValue(tt.value))
		})
	}
}
