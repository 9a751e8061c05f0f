package notifications

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenEvent is an event with every field set, as the golden envelope holds.
func goldenEvent() Event {
	var e Event
	e.ID = "asdf-asdf-asdf-asdf-0"
	e.Timestamp = time.Date(2015, 3, 4, 5, 6, 7, 0, time.UTC)
	e.Action = EventActionPush
	e.Target.Type = EventTargetTypeManifest
	e.Target.Name = "library/test"
	e.Target.Digest = "sha256:0123456789abcdef0"
	e.Target.Tag = "latest"
	e.Target.URL = "http://example.com/v2/library/test/manifests/latest"
	e.Request = RequestRecord{ID: "asdfasdf", Addr: "client.local", Host: "registrycluster.local", Method: "PUT", UserAgent: "test/0.1"}
	e.Actor = ActorRecord{Name: "test-actor"}
	e.Source = SourceRecord{Addr: "hostname.local:port", InstanceID: "instance-id"}
	return e
}

// TestEnvelopeGolden pins the wire format: a changed tag fails here.
func TestEnvelopeGolden(t *testing.T) {
	blob := goldenEvent()
	blob.ID = "asdf-asdf-asdf-asdf-1"
	blob.Action = EventActionPull
	blob.Target.Type = EventTargetTypeBlob
	blob.Target.Tag = ""
	blob.Target.URL = "http://example.com/v2/library/test/blobs/sha256:0123456789abcdef0"
	got, err := json.MarshalIndent(Envelope{Events: []Event{goldenEvent(), blob}}, "", "   ")
	require.NoError(t, err)
	got = append(got, '\n')

	path := filepath.Join("testdata", "envelope.golden.json")
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))

	var back Envelope
	require.NoError(t, json.Unmarshal(want, &back))
	assert.Equal(t, []Event{goldenEvent(), blob}, back.Events, "the golden envelope decodes to the same events")
}

func TestEventJSONOmitRules(t *testing.T) {
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{"empty envelope", Envelope{}, `{}`},
		{"request keeps id, method and useragent", RequestRecord{}, `{"id":"","method":"","useragent":""}`},
		{"empty actor", ActorRecord{}, `{}`},
		{"source with instanceID", SourceRecord{InstanceID: "i"}, `{"instanceID":"i"}`},
		{"zero event keeps its records",
			Event{},
			`{"timestamp":"0001-01-01T00:00:00Z","target":{},"request":{"id":"","method":"","useragent":""},"actor":{},"source":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.value)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
		})
	}
}
