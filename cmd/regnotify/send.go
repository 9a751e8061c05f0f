package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/manifest"
	"github.com/regnotify/notifications/storage/inmemory"
	"github.com/sirupsen/logrus"
)

func init() {
	commands["send"] = command{
		summary: "send one test event (a manifest push) to a webhook URL and print the answer",
		run:     runSend,
	}
}

const (
	// sendPoll is how often send looks at the endpoint's metrics.
	sendPoll = 10 * time.Millisecond

	// sendCloseGrace is the endpoint's CloseTimeout: how long Close keeps
	// trying after send has given up.
	sendCloseGrace = 200 * time.Millisecond
)

// errNotAccepted is returned when the event was not accepted in time.
var errNotAccepted = errors.New("not accepted")

// runSend writes the push event of a freshly signed sample manifest to a real
// endpoint (OpenEndpoint, with its queue, retries and signing) and watches the
// endpoint's metrics until the event was accepted, was refused for good, or
// --timeout passed.
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "", "webhook `URL` to POST the event to (required)")
	var secrets, headers stringsFlag
	fs.Var(&secrets, "secret", "sign with this whsec_ `secret` (repeat for several: one signature each)")
	fs.Var(&headers, "header", "add the header 'Name: value' to the request (repeatable)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up, exiting 1, when the event was not accepted within this `duration`")
	format := fs.String("format", string(notifications.FormatEnvelope), "wire `format`: envelope (the events media type) or cloudevents (CloudEvents 1.0, structured mode for one event)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: regnotify send --url URL [--secret whsec_...]... [--header 'Name: value']... [--timeout 10s] [--format envelope|cloudevents]\n\n"+
			"Sends one event, the push of a sample signed manifest, through a regnotify endpoint\n"+
			"(retrying as the library does) and prints the answer's status.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *target == "" {
		fmt.Fprintln(stderr, "--url is required")
		fs.Usage()
		return errUsage
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "--timeout must be more than 0")
		fs.Usage()
		return errUsage
	}
	header, err := parseHeaders(headers)
	if err != nil {
		return err
	}
	logger := logrus.New()
	logger.SetOutput(stderr)
	e, err := notifications.OpenEndpoint("regnotify-send", *target, notifications.EndpointConfig{
		Headers:        header,
		SigningSecrets: secrets,
		Timeout:        *timeout,
		Threshold:      3,
		Backoff:        250 * time.Millisecond,
		CloseTimeout:   sendCloseGrace,
		Logger:         logger,
		WireFormat:     notifications.Format(*format),
	})
	if err != nil {
		return err
	}
	reported := map[string]bool{}
	// report prints the statuses not printed yet, and whether the event
	// was accepted.
	report := func() (notifications.EndpointMetrics, bool) {
		var m notifications.EndpointMetrics
		e.ReadMetrics(&m)
		for _, status := range sortedStatuses(m.Statuses) {
			if reported[status] {
				continue
			}
			reported[status] = true
			if code := statusCode(status); code >= 200 && code < 400 {
				fmt.Fprintln(stdout, status)
			} else {
				fmt.Fprintf(stderr, "regnotify send: answered %s\n", status)
			}
		}
		return m, m.Successes > 0
	}
	// giveUp closes the endpoint, which keeps delivering for
	// sendCloseGrace: err, unless the event was accepted meanwhile.
	giveUp := func(err error) error {
		_ = e.Close() // an *UndeliveredError when the event is still out
		if _, accepted := report(); accepted {
			return nil
		}
		return err
	}
	if err := writeSampleEvent(e); err != nil {
		return giveUp(err)
	}

	deadline := time.NewTimer(*timeout)
	defer deadline.Stop()
	poll := time.NewTicker(sendPoll)
	defer poll.Stop()
	for {
		m, accepted := report()
		if accepted {
			return e.Close() // delivered: nothing left to flush
		}
		if status, ok := refused(m.Statuses); ok {
			return giveUp(fmt.Errorf("%w: %s refuses this content", errNotAccepted, status))
		}
		select {
		case <-ctx.Done():
			return giveUp(fmt.Errorf("%w: interrupted", errNotAccepted))
		case <-deadline.C:
			return giveUp(fmt.Errorf("%w within %s (%s)", errNotAccepted, *timeout, summary(m)))
		case <-poll.C:
		}
	}
}

// writeSampleEvent writes the push of a new signed manifest to sink, through
// a bridge as a registry would.
func writeSampleEvent(sink notifications.Sink) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	layer := digest.FromString("regnotify send: a sample layer")
	sm, err := manifest.Sign(&manifest.Manifest{
		Versioned:    manifest.Versioned{SchemaVersion: 1},
		Name:         "regnotify/sample",
		Tag:          "latest",
		Architecture: "amd64",
		FSLayers:     []manifest.FSLayer{{BlobSum: layer}},
		History:      []manifest.History{{V1Compatibility: `{"id":"regnotify-send"}`}},
	}, key)
	if err != nil {
		return err
	}
	bridge := notifications.NewBridge(demoURLs{base: "http://registry.local"},
		notifications.SourceRecord{Addr: "registry.local:5000", InstanceID: "regnotify-send"},
		notifications.ActorRecord{Name: "regnotify-send"},
		notifications.RequestRecord{ID: "regnotify-send", Method: "PUT", UserAgent: "regnotify-send"},
		sink)
	return bridge.ManifestPushed(inmemory.New().Repository(sm.Name), sm)
}

// sortedStatuses returns the keys of statuses, sorted.
func sortedStatuses(statuses map[string]int) []string {
	out := make([]string, 0, len(statuses))
	for status := range statuses {
		out = append(out, status)
	}
	sort.Strings(out)
	return out
}

// statusCode reads the code of a status such as "200 OK"; 0 if there is none.
func statusCode(status string) int {
	code, _ := strconv.Atoi(strings.SplitN(status, " ", 2)[0])
	return code
}

// refused returns a status with which the receiver refused the content for
// good (notifications.DefaultStatusPolicy says Reject).
func refused(statuses map[string]int) (string, bool) {
	for status := range statuses {
		if notifications.DefaultStatusPolicy(statusCode(status)) == notifications.Reject {
			return status, true
		}
	}
	return "", false
}

// summary describes the attempts so far.
func summary(m notifications.EndpointMetrics) string {
	if len(m.Statuses) == 0 && m.Errors == 0 {
		return "no attempt finished"
	}
	parts := make([]string, 0, len(m.Statuses)+1)
	for _, status := range sortedStatuses(m.Statuses) {
		parts = append(parts, fmt.Sprintf("%d× %s", m.Statuses[status], status))
	}
	if m.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d× no answer", m.Errors))
	}
	return strings.Join(parts, ", ")
}
