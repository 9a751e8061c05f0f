package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// BenchmarkFleet measures events/s delivered by 1, 2 and 3 relay workers
// (child processes running `regnotify relay` in fleet mode) sharing one
// durable consumer, from a JetStream file stream on one in-process server
// to a webhook that takes 2 ms to answer each request. 50,000 events are
// published before the workers start; events/s counts from the first
// event's arrival at the webhook to the last one's, so that starting the
// processes is not counted. Run it with -benchtime 1x.
//
// With the default maxbatch a relay sends up to 1000 events a request, and
// the machine's CPU bounds the fleet. With maxbatch=10 (a webhook that takes
// small requests) the webhook's 2 ms bound each relay, and relays add up;
// those runs deliver 30,000 events.
func BenchmarkFleet(b *testing.B) {
	for _, c := range []struct{ maxBatch, events int }{{0, 50_000}, {10, 30_000}} {
		for _, workers := range []int{1, 2, 3} {
			name := fmt.Sprintf("maxbatch=default/workers=%d", workers)
			if c.maxBatch > 0 {
				name = fmt.Sprintf("maxbatch=%d/workers=%d", c.maxBatch, workers)
			}
			b.Run(name, func(b *testing.B) { benchFleet(b, workers, c.maxBatch, c.events) })
		}
	}
}

// benchFleet runs one configuration of BenchmarkFleet.
func benchFleet(b *testing.B, workers, maxBatch, events int) {
	for b.Loop() {
		b.StopTimer()
		s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: b.TempDir(), NoLog: true, NoSigs: true})
		require.NoError(b, err)
		s.Start()
		require.True(b, s.ReadyForConnections(10*time.Second))
		nc, err := nats.Connect(s.ClientURL())
		require.NoError(b, err)
		js, err := natsjs.New(nc, natsjs.WithPublishAsyncMaxPending(4000))
		require.NoError(b, err)
		_, err = js.CreateStream(b.Context(), natsjs.StreamConfig{Name: "FLEET", Subjects: []string{"registry.events.>"}, Storage: natsjs.FileStorage})
		require.NoError(b, err)
		publishEvents(b, js, events)
		hook := newCountingHook(b, 2*time.Millisecond)
		file := fleetConfigBatch(b, s.ClientURL(), hook.URL, maxBatch)

		b.StartTimer()
		cmds, _ := startWorkers(b, file, workers)
		for {
			if d, _ := hook.counts(); d >= events {
				break
			}
			time.Sleep(time.Millisecond) // polling the webhook's count
		}
		b.StopTimer()
		hook.mu.Lock()
		elapsed := hook.last.Sub(hook.first)
		hook.mu.Unlock()
		_, total := hook.counts()
		b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(total-events), "duplicates")
		b.ReportMetric(0, "ns/op") // one delivery of the whole stream: events/s is the figure
		for _, cmd := range cmds {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
		nc.Close()
		s.Shutdown()
		s.WaitForShutdown()
		b.StartTimer()
	}
}
