package config

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseReadsYAMLAsDistribution: values distribution's YAML reader
// (yaml.v2, YAML 1.1) takes are read to the same values, so that an
// endpoint the registry runs can be pasted unchanged: YAML 1.1 booleans,
// integer durations in every YAML 1.1 integer notation, and merge keys.
// interop/registryv2 and interop/registryv3 compare the same documents
// with the registries' own parsers.
func TestParseReadsYAMLAsDistribution(t *testing.T) {
	type want struct {
		name      string
		disabled  bool
		timeout   time.Duration
		threshold int
		headers   http.Header
	}
	tests := []struct {
		name      string
		endpoints string // the items of notifications.endpoints
		want      []want
	}{
		{"YAML 1.1 true", "- {name: a, url: 'http://127.0.0.1/', disabled: yes}\n- {name: b, url: 'http://127.0.0.1/', disabled: On}\n- {name: c, url: 'http://127.0.0.1/', disabled: Y}\n",
			[]want{{name: "a", disabled: true}, {name: "b", disabled: true}, {name: "c", disabled: true}}},
		{"YAML 1.1 false", "- {name: a, url: 'http://127.0.0.1/', disabled: no}\n- {name: b, url: 'http://127.0.0.1/', disabled: OFF}\n- {name: c, url: 'http://127.0.0.1/', disabled: n}\n",
			[]want{{name: "a"}, {name: "b"}, {name: "c"}}},
		{"octal duration", "- {name: a, url: 'http://127.0.0.1/', timeout: 010000000000}\n", []want{{name: "a", timeout: 1073741824}}},
		{"0o duration", "- {name: a, url: 'http://127.0.0.1/', timeout: 0o10000000000}\n", []want{{name: "a", timeout: 1073741824}}},
		{"hexadecimal duration", "- {name: a, url: 'http://127.0.0.1/', timeout: 0x3b9aca00}\n", []want{{name: "a", timeout: time.Second}}},
		{"binary duration", "- {name: a, url: 'http://127.0.0.1/', timeout: 0b111011100110101100101000000000}\n", []want{{name: "a", timeout: time.Second}}},
		{"duration with underscores", "- {name: a, url: 'http://127.0.0.1/', timeout: 1_500_000_000}\n", []want{{name: "a", timeout: 1500 * time.Millisecond}}},
		{"merge key first", "- &base {name: a, url: 'http://127.0.0.1/', timeout: 3s, threshold: 4}\n- <<: *base\n  name: b\n  timeout: 5s\n",
			[]want{{name: "a", timeout: 3 * time.Second, threshold: 4}, {name: "b", timeout: 5 * time.Second, threshold: 4}}},
		{"merge key last wins, as in yaml.v2", "- name: a\n  url: 'http://127.0.0.1/'\n  timeout: 5s\n  <<: {timeout: 3s, threshold: 2}\n  threshold: 7\n",
			[]want{{name: "a", timeout: 3 * time.Second, threshold: 7}}},
		{"merge of a list: the first wins", "- &a {name: a, url: 'http://127.0.0.1/', threshold: 1}\n- &b {name: b, url: 'http://127.0.0.2/', threshold: 2, timeout: 2s}\n- <<: [*a, *b]\n  name: c\n",
			[]want{{name: "a", threshold: 1}, {name: "b", threshold: 2, timeout: 2 * time.Second}, {name: "c", threshold: 1, timeout: 2 * time.Second}}},
		{"merge in headers", "- {name: a, url: 'http://127.0.0.1/', headers: &h {X-A: [one]}}\n- {name: b, url: 'http://127.0.0.1/', headers: {<<: *h, X-B: [two]}}\n",
			[]want{{name: "a", headers: http.Header{"X-A": {"one"}}}, {name: "b", headers: http.Header{"X-A": {"one"}, "X-B": {"two"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("config.yml", []byte("notifications:\n  endpoints:\n"+indent(tt.endpoints, "    ")), env)
			require.NoError(t, err)
			var got []want
			for _, e := range c.Endpoints {
				got = append(got, want{e.Name, e.Disabled, e.Config.Timeout, e.Config.Threshold, e.Config.Headers})
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestParseBadMerges: a merge key must merge mappings, and a mapping
// cannot merge itself.
func TestParseBadMerges(t *testing.T) {
	for _, doc := range []string{
		"notifications:\n  endpoints:\n    - {name: a, url: 'http://127.0.0.1/', <<: 5}\n",
		"notifications:\n  endpoints:\n    - {name: a, url: 'http://127.0.0.1/', <<: [5]}\n",
		"notifications:\n  endpoints:\n    - &a {name: a, url: 'http://127.0.0.1/', <<: *a}\n",
	} {
		_, err := Parse("config.yml", []byte(doc), env)
		var ce *Error
		require.ErrorAs(t, err, &ce, doc)
		assert.ErrorIs(t, err, ErrBadValue, doc)
		assert.Equal(t, "notifications.endpoints[0].<<", ce.Key, doc)
	}
}

// indent puts prefix before every line of s.
func indent(s, prefix string) string {
	var out []byte
	start := true
	for _, c := range []byte(s) {
		if start {
			out = append(out, prefix...)
		}
		out = append(out, c)
		start = c == '\n'
	}
	return string(out)
}
