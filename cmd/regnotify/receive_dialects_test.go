package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications"
)

// README.md, "From the command line": "`receive --format cloudevents`
// prints each event it accepts (in any dialect) as a CloudEvent line instead
// of the event object."
//
// receive --format cloudevents is sent a v1 envelope (the 2015 format), a v2
// envelope (distribution v3's released format) and a CloudEvents batch, and
// prints every event of each, in order, as one CloudEvent line: the line
// notifications.AppendCloudEvent writes, whose data is the event object the
// sender sent.
func TestReceiveCloudEventsFromEveryDialect(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	const layer = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	// Each event object as its sender writes it, with what the CloudEvent
	// printed for it must say.
	type event struct {
		object                      string
		id, source, typ, subject, t string
	}
	v1 := []event{
		{`{"id":"v1-push","timestamp":"2026-01-02T03:04:05.123456789Z","action":"push",
			"target":{"type":"manifest","name":"library/hello","digest":"` + digest + `","tag":"latest","url":"http://registry.local/v2/library/hello/manifests/latest"},
			"request":{"id":"req-1","addr":"10.0.0.1:1234","host":"registry.local","method":"PUT","useragent":"docker/27"},
			"actor":{"name":"ci"},"source":{"addr":"registry-1:5000","instanceID":"i-1"}}`,
			"v1-push", "//registry-1:5000/i-1", "com.github.regnotify.registry.manifest.push", "library/hello:latest", "2026-01-02T03:04:05.123456789Z"},
		{`{"id":"v1-pull","timestamp":"2026-01-02T03:04:06Z","action":"pull",
			"target":{"type":"blob","name":"library/hello","digest":"` + layer + `","url":"http://registry.local/v2/library/hello/blobs/` + layer + `"},
			"request":{"id":"req-2","addr":"10.0.0.2:1234","host":"registry.local","method":"GET","useragent":"docker/27"},
			"actor":{},"source":{"addr":"registry-1:5000","instanceID":"i-1"}}`,
			"v1-pull", "//registry-1:5000/i-1", "com.github.regnotify.registry.blob.pull", "library/hello", "2026-01-02T03:04:06Z"},
	}
	v2 := []event{
		{`{"id":"v2-push","timestamp":"2026-01-02T04:00:00.5+02:00","action":"push",
			"target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":428,"digest":"` + digest + `","length":428,
				"repository":"team/app","url":"http://registry.local/v2/team/app/manifests/` + digest + `","tag":"v2",
				"references":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1024,"digest":"` + layer + `"}]},
			"request":{"id":"req-3","addr":"10.0.0.3:1234","host":"registry.local","method":"PUT","useragent":"containerd/2"},
			"actor":{"name":"deployer"},"source":{"addr":"registry-3:5000","instanceID":"i-3"}}`,
			"v2-push", "//registry-3:5000/i-3", "com.github.regnotify.registry.manifest.push", "team/app:v2", "2026-01-02T04:00:00.5+02:00"},
		{`{"id":"v2-untag","timestamp":"2026-01-02T04:00:01Z","action":"delete",
			"target":{"repository":"team/app","tag":"old"},
			"request":{"id":"req-4","addr":"10.0.0.3:1234","host":"registry.local","method":"DELETE","useragent":"regctl"},
			"actor":{},"source":{"addr":"registry-3:5000","instanceID":"i-3"}}`,
			"v2-untag", "//registry-3:5000/i-3", "com.github.regnotify.registry.tag.delete", "team/app:old", "2026-01-02T04:00:01Z"},
	}
	batch := []event{
		{`{"id":"ce-mount","timestamp":"2026-01-02T05:00:00Z","action":"mount",
			"target":{"mediaType":"application/octet-stream","size":1024,"digest":"` + layer + `","length":1024,"repository":"team/copy","fromRepository":"team/app"},
			"request":{"id":"req-5","method":"POST","useragent":"docker/27"},
			"actor":{"name":"ci"},"source":{"addr":"registry-5:5000"}}`,
			"ce-mount", "//registry-5:5000", "com.github.regnotify.registry.blob.mount", "team/copy", "2026-01-02T05:00:00Z"},
		{`{"id":"ce-delete","timestamp":"2026-01-02T05:00:01Z","action":"delete",
			"target":{"digest":"` + digest + `","repository":"team/copy"},
			"request":{"id":"req-6","method":"DELETE","useragent":"regctl"},
			"actor":{},"source":{"instanceID":"i-5"}}`,
			"ce-delete", "/i-5", "com.github.regnotify.registry.content.delete", "team/copy", "2026-01-02T05:00:01Z"},
	}
	envelope := func(events []event) string {
		objects := make([]string, len(events))
		for i, e := range events {
			objects[i] = e.object
		}
		return `{"events":[` + strings.Join(objects, ",") + `]}`
	}
	// The batch as a CloudEvents SDK writes it: its own attributes (a type
	// of its own among them), the event object as data.
	cloudEventBatch := func(events []event) string {
		ces := make([]string, len(events))
		for i, e := range events {
			ces[i] = `{"specversion":"1.0","id":"` + e.id + `","source":"urn:sdk:producer","type":"io.example.registry",` +
				`"time":"` + e.t + `","datacontenttype":"application/json","data":` + e.object + `}`
		}
		return "[" + strings.Join(ces, ",") + "]"
	}

	url, stdout, rejections := startReceive(t, "--format", "cloudevents")
	for _, req := range []struct{ contentType, body string }{
		{notifications.EventsMediaType, envelope(v1)},
		{notifications.EventsMediaTypeV2, envelope(v2)},
		{notifications.CloudEventsBatchMediaType, cloudEventBatch(batch)},
	} {
		resp, err := http.Post(url+"/events", req.contentType, strings.NewReader(req.body))
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s accepted: %s", req.contentType, rejections)
	}

	// The handler prints before it answers: every line is there.
	want := append(append(append([]event(nil), v1...), v2...), batch...)
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	require.Len(t, lines, len(want), "one line per event: %s", stdout)
	for i, w := range want {
		line := lines[i]
		var sent notifications.Event
		require.NoError(t, json.Unmarshal([]byte(w.object), &sent))
		exact, err := notifications.AppendCloudEvent(nil, &sent)
		require.NoError(t, err)
		assert.Equal(t, string(exact), line, "event %s: the line is the event as a CloudEvent", w.id)

		var ce map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(line), &ce), "event %s: a JSON line", w.id)
		attr := func(name string) string {
			var s string
			require.NoError(t, json.Unmarshal(ce[name], &s), "event %s: %s is a string", w.id, name)
			return s
		}
		assert.Equal(t, "1.0", attr("specversion"))
		assert.Equal(t, w.id, attr("id"))
		assert.Equal(t, w.source, attr("source"), "event %s: from the event's source record", w.id)
		assert.Equal(t, w.typ, attr("type"), "event %s", w.id)
		assert.Equal(t, w.subject, attr("subject"), "event %s", w.id)
		assert.Equal(t, w.t, attr("time"), "event %s", w.id)
		assert.Equal(t, "application/json", attr("datacontenttype"))
		assert.JSONEq(t, w.object, string(ce["data"]), "event %s: data is the event object as sent", w.id)
	}
	assert.NotRegexp(t, `regnotify receive: \d{3} `, rejections.String(), "no request rejected")
}
