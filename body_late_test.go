package notifications

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lateReader is a transport that answers 200 at once and reads each
// request body only later, as net/http's may (RoundTrip may close the body
// after it returned): the first request waits for gate.
type lateReader struct {
	gate   chan struct{}
	called chan struct{}
	once   sync.Once
	mu     sync.Mutex
	bodies []io.ReadCloser
}

func (l *lateReader) RoundTrip(req *http.Request) (*http.Response, error) {
	first := false
	l.once.Do(func() { first = true })
	if first {
		close(l.called)
		<-l.gate
	}
	l.mu.Lock()
	l.bodies = append(l.bodies, req.Body)
	l.mu.Unlock()
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: req}, nil
}

// A spliced body that the transport reads after the queue went on to later
// batches still reads the events of its own batch: the queue recycles a
// batch's memory, but not under a body still open.
func TestSplicedBodyReadLateIsItsOwn(t *testing.T) {
	rt := &lateReader{gate: make(chan struct{}), called: make(chan struct{})}
	config := fastConfig()
	config.MaxBatch = 4
	e, err := newEndpoint("late", "http://127.0.0.1:1/", config.withDefaults(), func(c EndpointConfig) Deliverer {
		h := newHTTPDeliverer("http://127.0.0.1:1/", c)
		h.client.Transport = rt
		return h
	})
	require.NoError(t, err)
	events := testEvents("e", 41)
	eventJSON, err := EncodeEvents(events)
	require.NoError(t, err)
	require.NoError(t, e.WriteEncoded(events[:1], eventJSON[:1]))
	<-rt.called
	for i := 1; i < len(events); i++ {
		require.NoError(t, e.WriteEncoded(events[i:i+1], eventJSON[i:i+1]))
	}
	close(rt.gate)
	require.NoError(t, e.Close())

	var got []string
	for _, body := range rt.bodies {
		raw, err := io.ReadAll(body)
		require.NoError(t, err)
		require.NoError(t, body.Close())
		var env Envelope
		require.NoError(t, json.Unmarshal(raw, &env), string(raw))
		assert.LessOrEqual(t, len(env.Events), 4, "MaxBatch")
		got = append(got, ids(env.Events)...)
	}
	assert.Equal(t, ids(events), got)
}
