package notifications

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEndpointCloseTimeout(t *testing.T) {
	hung := make(chan struct{})
	rc := newReceiver(t, func(int, http.ResponseWriter) int {
		<-hung
		return http.StatusOK
	})
	t.Cleanup(func() { close(hung) }) // runs before the receiver's Close
	dead := &fakeSink{}
	config := fastConfig()
	config.Timeout = time.Hour // only Close can end the request
	config.CloseTimeout = 30 * time.Millisecond
	config.DeadLetter = dead
	config.Logger = testLogger()
	e, err := OpenEndpoint("close-timeout", rc.URL, config)
	require.NoError(t, err)
	require.NoError(t, e.Write(testEvents("a", 2)...))
	require.NoError(t, e.Write(testEvents("b", 3)...))

	done := make(chan error, 1)
	go func() { done <- e.Close() }()
	var err2 error
	select {
	case err2 = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung with a hung receiver")
	}
	var undelivered *UndeliveredError
	require.ErrorAs(t, err2, &undelivered)
	assert.Equal(t, 5, undelivered.Events)
	assert.False(t, undelivered.Spooled)
	assert.Contains(t, err2.Error(), "5 events")
	assert.Len(t, dead.events(), 5, "dropped events go to the dead letter sink")
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 5, m.Dropped)
	assert.Zero(t, m.Pending)
}

func TestEndpointConcurrentClose(t *testing.T) {
	rc := newReceiver(t, nil)
	e := NewEndpoint("concurrent-close", rc.URL, fastConfig())
	require.NoError(t, e.Write(testEvents("a", 3)...))
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- e.Close() }()
	}
	var nils, closed int
	for range 4 {
		err := <-errs
		switch {
		case err == nil:
			nils++
		case errors.Is(err, ErrSinkClosed):
			closed++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	assert.Equal(t, 1, nils, "exactly one Close does the work")
	assert.Equal(t, 3, closed)
	assert.Len(t, rc.received(), 3)
}

// TestEndpointCloseTimeoutGivesUpEachEventOnce: an event the retrying sink
// already gave up is not given up again when Close cuts its batch short.
func TestEndpointCloseTimeoutGivesUpEachEventOnce(t *testing.T) {
	hung := make(chan struct{})
	srv := newUnstartedReceiver(t, nil)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env Envelope
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &env)
		for _, e := range env.Events {
			if e.ID == "poison" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		}
		<-hung // everything else waits for Close
	})
	srv.Start()
	t.Cleanup(func() { close(hung) })

	dead := &fakeSink{}
	config := fastConfig()
	config.Timeout = time.Hour
	config.CloseTimeout = 100 * time.Millisecond
	config.DeadLetter = dead
	config.Logger = testLogger()
	e, err := OpenEndpoint("once", srv.URL, config)
	require.NoError(t, err)
	block := testEvents("ok", 2)
	block[0].ID = "poison"
	require.NoError(t, e.Write(block...))
	eventually(t, func() bool { return len(dead.events()) == 1 }, "the poison is given up")

	err = e.Close()
	var undelivered *UndeliveredError
	require.ErrorAs(t, err, &undelivered)
	assert.Equal(t, 1, undelivered.Events, "only the event still unfinished")
	assert.Equal(t, []string{"poison", "ok-1"}, ids(dead.events()), "each event given up once")
	var m EndpointMetrics
	e.ReadMetrics(&m)
	assert.Equal(t, 2, m.Dropped)
	assert.Zero(t, m.Pending)
}
