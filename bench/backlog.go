package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	notifications "github.com/regnotify/notifications"
	"github.com/sirupsen/logrus"
)

// runBacklog measures a spool holding a backlog: o.backlog events written
// (o.writers goroutines, one event per Write) while the receiver is down,
// the heap they leave behind, the disk they take, the time a new endpoint
// takes to open the spool, and the rate at which it drains the backlog once
// the receiver is back, as a ratio of ceiling (events/s at latency 0).
func runBacklog(ctl receiverCtl, o options, ceiling float64, out io.Writer) error {
	n := max(o.backlog/o.writers, 1) * o.writers
	dir, err := os.MkdirTemp("", "regnotify-bench-backlog-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	down, err := refusingURL()
	if err != nil {
		return err
	}
	logger := logrus.New()
	logger.SetOutput(o.log)
	config := notifications.EndpointConfig{
		Headers: benchHeaders(), Timeout: o.timeout, Logger: logger,
		SpoolDir: dir, CloseTimeout: 100 * time.Millisecond,
	}
	ep, err := notifications.OpenEndpoint("backlog", down, config)
	if err != nil {
		return err
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	var s oursSender
	var wg sync.WaitGroup
	errs := make([]error, o.writers)
	per := n / o.writers
	for w := range o.writers {
		wg.Go(func() {
			for i := w * per; i < (w+1)*per; i++ {
				if err := ep.Write(s.build(i)); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	written := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	growth := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	disk, err := segmentBytes(dir)
	if err != nil {
		return err
	}
	var undelivered *notifications.UndeliveredError
	if err := ep.Close(); !errors.As(err, &undelivered) || !undelivered.Spooled {
		return fmt.Errorf("backlog: closing the endpoint whose receiver is down: %v", err)
	}
	fmt.Fprintf(o.progress, "backlog  %d events written in %v, %d left in the spool\n", n, written.Round(time.Millisecond), undelivered.Events)

	if err := ctl.Reset(n, 0); err != nil {
		return err
	}
	config.CloseTimeout = -1
	t1 := time.Now()
	ep, err = notifications.OpenEndpoint("backlog", ctl.URL(), config)
	if err != nil {
		return err
	}
	reopen := time.Since(t1)
	stats, err := ctl.Wait(10 * time.Minute)
	if err != nil {
		return err
	}
	drain := time.Duration(stats.Last - t1.UnixNano())
	segsLeft, err := segmentCount(dir)
	if err != nil {
		return err
	}
	if err := ep.Close(); err != nil {
		return err
	}
	if stats.Unique != n {
		return fmt.Errorf("backlog: %d of %d events delivered", stats.Unique, n)
	}
	rate := float64(n) / drain.Seconds()
	ofCeiling := "—"
	if ceiling > 0 {
		ofCeiling = fmt.Sprintf("**%.2f**", rate/ceiling)
	}
	fmt.Fprintf(out, "\nBacklog: %d events written (%.0f events/s) to a spooled endpoint whose receiver is down, then a new endpoint drains them (receiver latency 0):\n\n", n, float64(n)/written.Seconds())
	fmt.Fprintln(out, "| heap growth | disk per event | reopen | drain events/s | drain of ceiling | segments left when drained |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintf(out, "| %.1f MiB | %.0f B | %v | %.0f | %s | %d |\n",
		float64(growth)/(1<<20), float64(disk)/float64(n), reopen.Round(time.Millisecond), rate, ofCeiling, segsLeft)
	fmt.Fprintln(out, "\nheap growth: HeapAlloc after runtime.GC, after the writes minus before; disk: segment bytes / events; reopen: OpenEndpoint on the full spool; drain: reopen to the receiver's last answer.")
	return nil
}

// refusingURL returns a loopback URL where nothing listens.
func refusingURL() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", err
	}
	return "http://" + addr + "/hook", nil
}

// segmentBytes returns the bytes of the segment files under dir.
func segmentBytes(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".seg") {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			total += fi.Size()
		}
		return err
	})
	return total, err
}

// segmentCount returns how many segment files are under dir.
func segmentCount(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".seg") {
			n++
		}
		return err
	})
	return n, err
}
