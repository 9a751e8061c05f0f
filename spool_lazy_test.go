package notifications

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spoolBacklog writes blocks of events, named prefix-i, into the spool of
// endpoint name under dir, as an endpoint that could not deliver them
// leaves it, and returns them in order. Read back, they come from the disk.
// With withJSON the blocks come with their JSON, as a Broadcaster's do, and
// are stored as that JSON; else as Write's, in their binary form.
func spoolBacklog(t *testing.T, dir, name string, withJSON bool, prefixes ...string) []Event {
	t.Helper()
	s, err := openSpoolMemory(dir, name, time.Second, testLogger(), -1)
	require.NoError(t, err)
	var all []Event
	for k, prefix := range prefixes {
		block := make([]Event, 1+k%3)
		for i := range block {
			block[i] = goldenEvent()
			block[i].ID = fmt.Sprintf("%s-%d", prefix, i)
		}
		b := queuedBlock{events: block, written: stampNow()}
		if withJSON {
			objects, err := EncodeEvents(block)
			require.NoError(t, err)
			b.json = &blockJSON{objects: objects}
		}
		require.NoError(t, s.push(b))
		all = append(all, block...)
	}
	require.NoError(t, s.close())
	return all
}

// sameJSON asserts that got are want, compared as the JSON they encode to
// (decoding gives times another *Location).
func sameJSON(t *testing.T, want, got []Event, msg string) {
	t.Helper()
	w, err := EncodeEvents(want)
	require.NoError(t, err)
	g, err := EncodeEvents(got)
	require.NoError(t, err)
	assert.Equal(t, w, g, msg)
}

// A backlog of JSON (a Broadcaster's) read back from the spool is sent as
// it is stored: its events are decoded only when something needs their
// values (OnFinished, the dead letter sink after a refusal), and then those
// consumers see the events written. A backlog of Writes, stored in binary,
// is decoded from that as it is read, never from JSON, and its consumers
// see the same.
func TestSpooledBatchesDecodedOnlyWhenNeeded(t *testing.T) {
	tests := []struct {
		name       string
		binary     bool
		onFinished bool
		refuse     bool // the destination refuses the envelopes holding bad-0
		decoded    bool
	}{
		{name: "accepted, no consumer", decoded: false},
		{name: "accepted, OnFinished", onFinished: true, decoded: true},
		{name: "refused", refuse: true, decoded: true},
		{name: "refused, OnFinished", refuse: true, onFinished: true, decoded: true},
		{name: "binary, accepted", binary: true},
		{name: "binary, refused, OnFinished", binary: true, refuse: true, onFinished: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			all := spoolBacklog(t, dir, "lazy", !tt.binary, "a", "b", "bad", "c", "d")

			var mu sync.Mutex
			var received []Event
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if tt.refuse && bytes.Contains(body, []byte(`"id":"bad-0"`)) {
					w.WriteHeader(http.StatusUnprocessableEntity)
					return
				}
				var env Envelope
				if err := json.Unmarshal(body, &env); err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				mu.Lock()
				received = append(received, env.Events...)
				mu.Unlock()
			}))
			defer srv.Close()

			dead := &fakeSink{}
			log := &finishedLog{}
			config := fastConfig()
			config.SpoolDir = dir
			config.Logger = testLogger()
			config.DeadLetter = dead
			if tt.onFinished {
				config.OnFinished = log.record
			}
			before := decodedEvents.Load()
			e, err := OpenEndpoint("lazy", srv.URL, config)
			require.NoError(t, err)
			require.NoError(t, e.Close())
			decoded := decodedEvents.Load() - before

			if !tt.decoded {
				assert.Zero(t, decoded, "events decoded")
			} else {
				assert.NotZero(t, decoded, "events decoded")
				assert.LessOrEqual(t, decoded, int64(len(all)), "each event decoded at most once")
			}
			var bad []Event
			want := all
			if tt.refuse {
				bad, want = all[3:4], append(append([]Event(nil), all[:3]...), all[4:]...)
				require.Equal(t, "bad-0", bad[0].ID)
			}
			mu.Lock()
			sameJSON(t, want, received, "delivered")
			mu.Unlock()
			sameJSON(t, bad, dead.events(), "dead letter")
			if tt.onFinished {
				require.Equal(t, len(all), log.count())
				byID := log.byID(t)
				for _, ev := range all {
					f := byID[ev.ID]
					assert.Equal(t, ev.ID != "bad-0" || !tt.refuse, f.Delivered(), ev.ID)
					sameJSON(t, []Event{ev}, f.Events, "OnFinished gets the events written")
				}
			}
		})
	}
}

// Records whose items are not JSON objects are dropped and counted lost
// when read; the shape check passes what EncodeEvents writes.
func TestJSONObjects(t *testing.T) {
	encoded, err := EncodeEvents(testEvents("a", 2))
	require.NoError(t, err)
	assert.True(t, jsonObjects(encoded))
	for _, items := range [][][]byte{nil, {[]byte("not json")}, {[]byte("{")}, {encoded[0], []byte("[]")}} {
		assert.False(t, jsonObjects(items), "%q", items)
	}
}
