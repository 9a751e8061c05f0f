package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"time"
)

// measurePending returns the heap held per pending event: n events written
// to p while its endpoint's first POST hangs at a receiver that does not
// answer, so that nothing drains. Events are built as the bridge builds
// them, inside the measured window, and only what the pipeline keeps of them
// counts (runtime.GC, then the HeapAlloc delta divided by n).
//
// With wait, the receiver then answers every request at once and the
// pipeline is closed, drained, before measurePending returns. Without, the
// pipeline and its hung receiver are left as they are, for a program that is
// about to exit: distribution v3 would drain with one connection per event.
func measurePending(p pipeline, n int, wait bool) (float64, error) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	if wait {
		defer srv.Close()
		defer unblock()
	}

	s := p.open(srv.URL, 5*time.Minute, io.Discard)
	if err := s.buildAndWrite(0); err != nil {
		return 0, err
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		return 0, errors.New(p.name() + ": the first POST never arrived")
	}

	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for i := 1; i <= n; i++ {
		if err := s.buildAndWrite(i); err != nil {
			return 0, err
		}
	}
	time.Sleep(50 * time.Millisecond) // let a broadcaster goroutine hand the last event over
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	per := (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / float64(n)

	if !wait {
		return per, nil
	}
	unblock()
	return per, s.close()
}
