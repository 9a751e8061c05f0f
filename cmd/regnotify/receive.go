package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/receiver"
	"github.com/regnotify/notifications/relay"
)

func init() {
	commands["receive"] = command{
		summary: "run a webhook receiver; print each event it accepts as a JSON line",
		run:     runReceive,
	}
}

// runReceive serves receiver.New on --listen until ctx is cancelled (main
// cancels it on SIGINT and SIGTERM), then shuts the server down as a
// relay's (relay.Serve). Accepted
// events go to stdout, one JSON object a line; every rejected request gets a
// one-line summary on stderr.
func runReceive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("receive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:5003", "`address` to listen on")
	var secrets stringsFlag
	fs.Var(&secrets, "secret", "require requests signed with this whsec_ `secret` (repeat for several; none: accept unsigned requests)")
	tolerance := fs.Duration("tolerance", receiver.DefaultTolerance, "largest difference between a request's webhook-timestamp and now")
	maxBody := fs.Int64("max-body", receiver.DefaultMaxBodyBytes, "largest request body accepted, in `bytes`")
	format := fs.String("format", string(notifications.FormatEnvelope), "how each event is printed: envelope (the event's JSON object, as in an envelope) or cloudevents (a structured CloudEvent); every dialect is accepted either way")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: regnotify receive [--listen address] [--secret whsec_...]... [--format envelope|cloudevents]\n\n"+
			"Receives registry webhooks (envelopes v1 and v2, CloudEvents batched, structured or binary)\n"+
			"and prints each new event as a JSON line on stdout;\n"+
			"rejected requests are summarised on stderr. Stops on SIGINT or SIGTERM.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *listen == "" { // net.Listen would take every interface, at a port of its choice
		fmt.Fprintln(stderr, "--listen must not be empty (\":5003\" listens on every interface)")
		fs.Usage()
		return errUsage
	}
	var cloudEvents bool
	switch notifications.Format(*format) {
	case notifications.FormatEnvelope:
	case notifications.FormatCloudEvents:
		cloudEvents = true
	default:
		fmt.Fprintf(stderr, "--format %q: want envelope or cloudevents\n", *format)
		fs.Usage()
		return errUsage
	}
	cfg := receiver.Config{Secrets: secrets, Tolerance: *tolerance, MaxBodyBytes: *maxBody}
	if err := cfg.Validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	out := &eventPrinter{w: stdout, cloudEvents: cloudEvents}
	signed := "unsigned requests accepted"
	if len(secrets) > 0 {
		signed = fmt.Sprintf("signatures required, %d secret(s)", len(secrets))
	}
	fmt.Fprintf(stderr, "regnotify receive: listening on http://%s/ (%s)\n", ln.Addr(), signed)
	err = relay.Serve(ctx, ln, &rejectionLogger{next: receiver.New(cfg, out.print), w: stderr})
	if ctx.Err() != nil { // stopped as asked: requests still running after the grace were cut
		fmt.Fprintln(stderr, "regnotify receive: stopped")
		return nil
	}
	return err
}

// eventPrinter writes events as JSON lines; requests may call it at once.
type eventPrinter struct {
	mu          sync.Mutex
	w           io.Writer
	cloudEvents bool // print each event as a structured CloudEvent
}

// print writes one line per event, all of a request's in one write. An error
// makes the receiver answer 503, so that the sender tries again.
func (p *eventPrinter) print(_ context.Context, events []notifications.Event) error {
	var lines []byte
	for _, e := range events {
		var err error
		if p.cloudEvents {
			lines, err = notifications.AppendCloudEvent(lines, &e)
		} else {
			var line []byte
			line, err = json.Marshal(e)
			lines = append(lines, line...)
		}
		if err != nil {
			return err
		}
		lines = append(lines, '\n')
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.w.Write(lines)
	return err
}

// rejectionLogger prints a line for every answer of next that is not 2xx.
type rejectionLogger struct {
	next http.Handler
	mu   sync.Mutex
	w    io.Writer
}

var _ http.Handler = (*rejectionLogger)(nil)

// ServeHTTP serves r with next and reports a non-2xx answer.
func (l *rejectionLogger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	l.next.ServeHTTP(sw, r)
	if sw.code >= 200 && sw.code < 300 {
		return
	}
	reason := strings.TrimSpace(strings.SplitN(sw.reason.String(), "\n", 2)[0])
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "regnotify receive: %d %s: %s %s from %s: %s\n",
		sw.code, http.StatusText(sw.code), r.Method, r.URL.Path, r.RemoteAddr, reason)
}

// maxReason is how much of an error answer's body is kept for the summary.
const maxReason = 200

// statusWriter records the status code and the start of the body.
type statusWriter struct {
	http.ResponseWriter
	code   int
	reason strings.Builder
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if room := maxReason - w.reason.Len(); room > 0 {
		w.reason.Write(b[:min(len(b), room)])
	}
	return w.ResponseWriter.Write(b)
}
