package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDemoPrintsEveryEvent(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"demo"}, &stdout, &stderr)
	assert.Equal(t, 0, code, stderr.String())
	out := stdout.String()
	for _, line := range []string{"push   blob", "push   manifest", "pull   manifest", "pull   blob", "delete manifest"} {
		assert.Contains(t, out, line)
	}
	assert.Contains(t, out, "successes=5")
	assert.Contains(t, out, "library/hello  application/vnd.docker.distribution.manifest.v1+prettyjws", "the released shape")
	assert.NotContains(t, out+stderr.String(), "demo-token", "header values are never printed")
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"nope"}, 2},
		{[]string{"--help"}, 0},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, tt.code, run(t.Context(), tt.args, &stdout, &stderr), "args %q", tt.args)
		for name := range commands {
			assert.Contains(t, stderr.String(), name, "usage names every command")
		}
		assert.True(t, strings.HasPrefix(stderr.String(), "Usage:") || strings.Contains(stderr.String(), "unknown command"))
	}
}
