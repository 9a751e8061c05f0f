package receiver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regnotify/notifications"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerPanicFreesIDs(t *testing.T) {
	logger, hook := logtest.NewNullLogger()
	var calls atomic.Int32
	h := New(Config{Logger: logger}, func(_ context.Context, events []notifications.Event) error {
		if calls.Add(1) == 1 {
			panic("application bug")
		}
		return nil
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // net/http's own report of a panic it recovered
	srv.Start()
	t.Cleanup(srv.Close)
	body := envelope(t, "p1", "p2")
	post := func() int {
		resp, err := srv.Client().Post(srv.URL, notifications.EventsMediaType, bytes.NewReader(body))
		if err != nil {
			return 0 // the connection was dropped
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}

	assert.Equal(t, http.StatusInternalServerError, post(), "a panic answers 500")
	require.NotEmpty(t, hook.AllEntries(), "the panic is logged")
	entry := hook.LastEntry()
	assert.Contains(t, entry.Message, "panic")
	assert.Equal(t, "application bug", entry.Data["panic"])
	assert.Equal(t, 2, entry.Data["events"])
	assert.NotEmpty(t, entry.Data["stack"])

	assert.Equal(t, http.StatusOK, post(), "the retry is handled, not refused as busy")
	assert.Equal(t, int32(2), calls.Load())
	assert.Equal(t, http.StatusOK, post())
	assert.Equal(t, int32(2), calls.Load(), "handled events are not passed again")
}

func TestHandlerAbortPanicFreesIDs(t *testing.T) {
	calls := 0
	h := New(Config{}, func(_ context.Context, events []notifications.Event) error {
		calls++
		if calls == 1 {
			panic(http.ErrAbortHandler)
		}
		return nil
	})
	body := envelope(t, "a1")
	func() {
		defer func() {
			err, _ := recover().(error)
			assert.True(t, errors.Is(err, http.ErrAbortHandler), "http.ErrAbortHandler is panicked again, for net/http")
		}()
		serve(h, newRequest(t, body, time.Now()))
	}()
	resp := serve(h, newRequest(t, body, time.Now()))
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the aborted IDs are free for the retry")
	assert.Equal(t, 2, calls)
}
