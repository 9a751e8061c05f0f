package notifications

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bodies built from the events' JSON are the bodies encoded from the
// events, in both wire formats, for one event and for several.
func TestEncodeJSONMatchesEncode(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, format := range []Format{FormatEnvelope, FormatCloudEvents} {
		h := newHTTPDeliverer("http://127.0.0.1:1/", EndpointConfig{WireFormat: format}.withDefaults())
		for range 500 {
			events := make([]Event, 1+r.IntN(4))
			for i := range events {
				events[i] = randomEvent(r)
				events[i].ID = "id-" + events[i].ID // CloudEvents need one
			}
			eventJSON, err := EncodeEvents(events)
			require.NoError(t, err)
			want, err := h.Encode(events)
			require.NoError(t, err)
			got, err := h.EncodeJSON(events, eventJSON)
			require.NoError(t, err)
			require.Equal(t, string(bodyOf(t, want)), string(bodyOf(t, got)), format)
			want.Release()
			got.Release()
		}
	}
}

// bodyOf reads the body of a batch the HTTP deliverer encoded, as a
// request does, and checks its announced length.
func bodyOf(t *testing.T, enc Encoded) []byte {
	t.Helper()
	b := enc.(*httpBatch)
	r := b.pool.open(b.body)
	defer r.Close()
	body, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, b.body.size(), len(body), "the Content-Length is the body's")
	return body
}

// A spliced envelope reads the same in reads of any size.
func TestSplicedReaderReadsTheEnvelope(t *testing.T) {
	events := bridgeEvents(3)
	eventJSON, err := EncodeEvents(events)
	require.NoError(t, err)
	for n := 1; n <= len(events); n++ {
		want, err := appendEnvelope(nil, events[:n])
		require.NoError(t, err)
		for _, size := range []int{1, 2, 7, 100, 1 << 16} {
			r := &splicedReader{json: eventJSON[:n]}
			var got []byte
			buf := make([]byte, size)
			for {
				k, err := r.Read(buf)
				got = append(got, buf[:k]...)
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				require.Positive(t, k)
			}
			assert.Equal(t, string(want), string(got), "%d events, reads of %d", n, size)
		}
	}
}

// Reading a spliced body copies bytes and allocates nothing, however
// many events it holds.
func TestSplicedReaderAllocatesNothing(t *testing.T) {
	eventJSON, err := EncodeEvents(bridgeEvents(100))
	require.NoError(t, err)
	r := &splicedReader{}
	buf := make([]byte, 32<<10)
	allocs := allocsPerRun(20, func() {
		*r = splicedReader{json: eventJSON}
		for {
			if _, err := r.Read(buf); err == io.EOF {
				return
			}
		}
	})
	assert.Zero(t, allocs)
}

func TestEncodeEventsMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	events := randomEvents(r, 200)
	events[3].Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // encoding/json refuses it
	_, err := EncodeEvents(events)
	require.Error(t, err)
	events[3].Timestamp = time.Time{}
	eventJSON, err := EncodeEvents(events)
	require.NoError(t, err)
	require.Len(t, eventJSON, len(events))
	for i := range events {
		want, err := json.Marshal(&events[i])
		require.NoError(t, err)
		assert.Equal(t, string(want), string(eventJSON[i]))
	}
}

// rawReceiver records the body of every request and answers 200; while
// hold is open, the first request waits for it.
type rawReceiver struct {
	*httptest.Server
	hold chan struct{}

	mu     sync.Mutex
	bodies [][]byte
}

func newRawReceiver(t *testing.T, hold bool) *rawReceiver {
	rc := &rawReceiver{}
	if hold {
		rc.hold = make(chan struct{})
	}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, body)
		first := len(rc.bodies) == 1
		rc.mu.Unlock()
		if first && rc.hold != nil {
			select { // a test that failed before releasing it ends the request
			case <-rc.hold:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *rawReceiver) received() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...)
}

// Endpoints send the JSON written with WriteEncoded as it is, without
// encoding the events again, from memory and from a spool, in both
// formats, and only for the events they do not ignore. The marker field
// the events do not have shows that the bytes were spliced.
func TestEndpointsSpliceWrittenJSON(t *testing.T) {
	for _, tt := range []struct {
		name   string
		format Format
		spool  bool
	}{
		{"envelope in memory", FormatEnvelope, false},
		{"envelope spooled", FormatEnvelope, true},
		{"cloudevents in memory", FormatCloudEvents, false},
		{"cloudevents spooled", FormatCloudEvents, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := newRawReceiver(t, false)
			config := fastConfig()
			config.WireFormat = tt.format
			config.Ignore.Actions = []string{EventActionPull}
			if tt.spool {
				config.SpoolDir = t.TempDir()
			}
			e, err := OpenEndpoint("splice", rc.URL, config)
			require.NoError(t, err)
			events := testEvents("e", 4)
			events[1].Action = EventActionPull
			eventJSON, err := EncodeEvents(events)
			require.NoError(t, err)
			for i := range eventJSON {
				eventJSON[i] = append([]byte(`{"marker":`+string(rune('0'+i))+`,`), eventJSON[i][1:]...)
			}
			require.NoError(t, e.WriteEncoded(events, eventJSON))
			require.NoError(t, e.Close())
			all := bytes.Join(rc.received(), nil)
			for i, want := range []bool{true, false, true, true} {
				assert.Equal(t, want, bytes.Contains(all, eventJSON[i]), "event %d's JSON sent as written", i)
			}
		})
	}
}

// Batches of blocks written with their JSON are flattened into events only
// when something needs them: a refusal splits such a batch, the refused
// event goes to the dead letter sink whole, and OnFinished gets every
// event, delivered or not.
func TestSplicedBatchesRefusedAndFinished(t *testing.T) {
	for _, onFinished := range []bool{false, true} {
		t.Run(map[bool]string{false: "without OnFinished", true: "with OnFinished"}[onFinished], func(t *testing.T) {
			hold := make(chan struct{})
			var requests sync.Mutex
			first := true
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				requests.Lock()
				wait := first
				first = false
				requests.Unlock()
				if wait {
					<-hold // the other blocks queue up behind the first
				}
				if bytes.Contains(body, []byte(`"id":"bad-0"`)) {
					w.WriteHeader(http.StatusUnprocessableEntity)
				}
			}))
			defer srv.Close()
			dead := &fakeSink{}
			log := &finishedLog{}
			config := fastConfig()
			config.DeadLetter = dead
			if onFinished {
				config.OnFinished = log.record
			}
			e, err := OpenEndpoint("refuse", srv.URL, config)
			require.NoError(t, err)
			var all []Event
			for _, prefix := range []string{"first", "a", "b", "bad", "c", "d"} {
				block := testEvents(prefix, 1)
				all = append(all, block...)
				eventJSON, err := EncodeEvents(block)
				require.NoError(t, err)
				require.NoError(t, e.WriteEncoded(block, eventJSON))
			}
			close(hold)
			require.NoError(t, e.Close())
			require.Len(t, dead.events(), 1)
			assert.Equal(t, all[3], dead.events()[0], "the refused event, whole")
			var m EndpointMetrics
			e.ReadMetrics(&m)
			assert.Equal(t, 5, m.Successes)
			assert.Equal(t, 1, m.Dropped)
			if onFinished {
				byID := log.byID(t)
				require.Len(t, byID, len(all))
				for _, ev := range all {
					assert.Equal(t, ev.ID != "bad-0", byID[ev.ID].Delivered(), ev.ID)
					assert.Equal(t, ev, byID[ev.ID].Events[0], "OnFinished gets the events themselves")
				}
			}
		})
	}
}
