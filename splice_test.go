package notifications

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
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

// The size the queue counts for a batch is never short of the body, and
// at most a few bytes over it, in either format, with or without the
// events' JSON.
func TestBodySizeBoundsTheBody(t *testing.T) {
	events := bridgeEvents(5)
	eventJSON, err := EncodeEvents(events)
	require.NoError(t, err)
	for _, tt := range []struct {
		name     string
		encoding bodyEncoding
	}{
		{"envelope", envelopeEncoding},
		{"cloudevents", cloudEventsEncoding},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for n := 1; n <= len(events); n++ {
				body, err := tt.encoding.appendBody(nil, events[:n])
				require.NoError(t, err)
				for _, js := range [][][]byte{nil, eventJSON[:n]} {
					size := tt.encoding.bodySize(events[:n], js)
					assert.GreaterOrEqual(t, size, len(body), "%d events", n)
					assert.LessOrEqual(t, size, len(body)+3, "%d events", n)
				}
			}
		})
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

// A CloudEvents endpoint keeps every body within 1 MiB although each event
// is a third larger than in an envelope: a backlog that fits in one
// envelope of MaxBatch events goes out in several requests.
func TestCloudEventsBodiesStayUnderOneMiB(t *testing.T) {
	rc := newRawReceiver(t, true)
	config := fastConfig()
	config.WireFormat = FormatCloudEvents
	e, err := OpenEndpoint("ce", rc.URL, config)
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("first", 1)...)) // held while the rest queue up
	eventually(t, func() bool { return len(rc.received()) == 1 }, "the first request is out")
	var want []string
	for i := range 10 { // MaxBatch events: one envelope
		block := testEvents("block-"+string(rune('a'+i)), 100)
		for j := range block {
			block[j].Target.URL = strings.Repeat("u", 750) // about 1000 B of event JSON
		}
		want = append(want, ids(block)...)
		require.NoError(t, e.Write(block...))
	}
	events := make([]Event, 0, 1000)
	for range 10 {
		events = append(events, testEvents("x", 100)...)
	}
	for j := range events {
		events[j].Target.URL = strings.Repeat("u", 750)
	}
	envelope, err := envelopeEncoding.appendBody(nil, events)
	require.NoError(t, err)
	require.Less(t, len(envelope), maxEnvelopeBytes, "1000 of these events fit in one envelope")
	close(rc.hold)
	require.NoError(t, e.Close())

	var got []string
	bodies := rc.received()
	for _, body := range bodies[1:] {
		assert.LessOrEqual(t, len(body), maxEnvelopeBytes)
		var ces []struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(body, &ces))
		for _, ce := range ces {
			got = append(got, ce.ID)
		}
	}
	assert.Equal(t, want, got, "whole blocks, in order")
	assert.Greater(t, len(bodies), 2, "the backlog went out in several requests")
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

// A Broadcaster encodes each event once for its endpoints, and writes
// the events alone to sinks that are not EncodedSinks.
func TestBroadcasterSharesEncodedEvents(t *testing.T) {
	envelope, cloud := newRawReceiver(t, false), newRawReceiver(t, false)
	e1, err := OpenEndpoint("envelope", envelope.URL, fastConfig())
	require.NoError(t, err)
	config := fastConfig()
	config.WireFormat = FormatCloudEvents
	e2, err := OpenEndpoint("cloudevents", cloud.URL, config)
	require.NoError(t, err)
	plain := &fakeSink{}
	b := NewBroadcaster(e1, plain, e2)
	events := bridgeEvents(3)
	for i := range events {
		require.NoError(t, b.Write(events[i]))
	}
	checkClose(t, b)

	var got Envelope
	var envelopeIDs []string
	for _, body := range envelope.received() {
		require.NoError(t, json.Unmarshal(body, &got))
		envelopeIDs = append(envelopeIDs, ids(got.Events)...)
	}
	assert.Equal(t, ids(events), envelopeIDs)
	eventJSON, err := EncodeEvents(events)
	require.NoError(t, err)
	all := bytes.Join(cloud.received(), nil)
	for i := range events {
		assert.True(t, bytes.Contains(all, eventJSON[i]), "event %d is the data of its CloudEvent", i)
	}
	assert.Equal(t, ids(events), ids(plain.events()))
}

// A Broadcaster encodes only for sinks that use the JSON: endpoints whose
// Deliverer neither splices nor has a spool to store it would drop it.
func TestBroadcasterEncodesOnlyForSinksThatUseJSON(t *testing.T) {
	plain := func() Sink {
		e, err := NewDelivererEndpoint("plain", "discard", &fakeDeliverer{}, EndpointConfig{Logger: testLogger()})
		require.NoError(t, err)
		return e
	}
	webhook := func() Sink {
		e, err := OpenEndpoint("webhook", "http://127.0.0.1:1/", EndpointConfig{Logger: testLogger(), CloseTimeout: time.Millisecond})
		require.NoError(t, err)
		return e
	}
	for _, tt := range []struct {
		name  string
		sinks []Sink
		want  int
	}{
		{"two plain deliverers", []Sink{plain(), plain()}, 0},
		{"two webhooks", []Sink{webhook(), webhook()}, 2},
		{"a webhook and a plain sink", []Sink{webhook(), &fakeSink{}}, 1},
		{"nested", []Sink{NewBroadcaster(webhook()), plain()}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBroadcaster(tt.sinks...)
			assert.Equal(t, tt.want, b.encoded)
			_ = b.Close()
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

// An envelope endpoint encodes a backlog of events held in memory without
// sizing them first, and fits the blocks to 1 MiB only when the envelope
// of all of them would be larger: either way every body stays within
// 1 MiB and holds whole blocks, in order.
func TestEnvelopeBacklogBodiesStayUnderOneMiB(t *testing.T) {
	for _, tt := range []struct {
		name     string
		urlBytes int // about the size of each event's JSON, less 250 B
		requests int // for the backlog; 0: several
	}{
		{"fits in one envelope", 750, 1},
		{"needs several envelopes", 1500, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := newRawReceiver(t, true)
			e, err := OpenEndpoint("env", rc.URL, fastConfig())
			require.NoError(t, err)
			require.NoError(t, e.Write(testEvents("first", 1)...)) // held while the rest queue up
			eventually(t, func() bool { return len(rc.received()) == 1 }, "the first request is out")
			var want []string
			for i := range 10 { // MaxBatch events
				block := testEvents(fmt.Sprint("block-", i), 100)
				for j := range block {
					block[j].Target.URL = strings.Repeat("u", tt.urlBytes)
				}
				want = append(want, ids(block)...)
				require.NoError(t, e.Write(block...))
			}
			close(rc.hold)
			require.NoError(t, e.Close())

			var got []string
			bodies := rc.received()[1:]
			for _, body := range bodies {
				assert.LessOrEqual(t, len(body), maxEnvelopeBytes)
				var env Envelope
				require.NoError(t, json.Unmarshal(body, &env))
				assert.Zero(t, len(env.Events)%100, "whole blocks")
				got = append(got, ids(env.Events)...)
			}
			assert.Equal(t, want, got, "in order")
			if tt.requests > 0 {
				assert.Len(t, bodies, tt.requests)
			} else {
				assert.Greater(t, len(bodies), 1, "the backlog went out in several requests")
			}
		})
	}
}
