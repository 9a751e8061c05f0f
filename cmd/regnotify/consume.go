package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/jetstream"
)

func init() {
	commands["consume"] = command{
		summary: "read registry events from a NATS JetStream stream; print each as a JSON line",
		run:     runConsume,
	}
}

// defaultDurable names the consumer when --durable is not given.
const defaultDurable = "regnotify-consume"

// runConsume reads the stream with a durable consumer until ctx is cancelled
// (main cancels it on SIGINT and SIGTERM). Each event goes to stdout as one
// JSON object a line, the output of `regnotify receive`, and is acked once
// written: a later run with the same --durable resumes after the last event
// printed. A message that is not an event is reported on stderr and
// terminated, so that it is not delivered again. When NATS closes the
// connection for good, runConsume returns an error.
func runConsume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("consume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	servers := fs.String("nats", nats.DefaultURL, "NATS server `URL`s, separated by commas")
	stream := fs.String("stream", "", "JetStream stream to read (required)")
	durable := fs.String("durable", defaultDurable, "durable consumer `name`: a later run with the same name resumes where this one stopped")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: regnotify consume --stream NAME [--nats nats://127.0.0.1:4222] [--durable NAME]\n\n"+
			"Reads registry events from a JetStream stream with a durable consumer and prints each\n"+
			"as a JSON line on stdout, acking it once printed. Stops on SIGINT or SIGTERM.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *stream == "" || *durable == "" {
		fmt.Fprintln(stderr, "--stream and --durable must not be empty")
		fs.Usage()
		return errUsage
	}

	nc, err := jetstream.Connect(*servers, nats.Name("regnotify consume"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("NATS: %w", err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		return err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, *stream, natsjs.ConsumerConfig{
		Durable:       *durable,
		AckPolicy:     natsjs.AckExplicitPolicy,
		DeliverPolicy: natsjs.DeliverAllPolicy,
	})
	switch {
	case ctx.Err() != nil: // stopped while starting: a stop, not a failure
		fmt.Fprintln(stderr, "regnotify consume: stopped")
		return nil
	case errors.Is(err, natsjs.ErrStreamNotFound):
		return fmt.Errorf("stream %q not found on %s", *stream, notifications.RedactURL(nc.ConnectedUrl()))
	case err != nil:
		return fmt.Errorf("consumer %q of stream %q: %w", *durable, *stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	// Stopped, the iterator hands out what it pulled ahead, to be nak'ed:
	// back in the stream at once, for the next run, rather than locked for
	// the consumer's AckWait. Draining waits for the server: with none, or
	// with a link lost meanwhile, the connection is closed instead (nothing
	// could be nak'ed), so that a stop during an outage is prompt.
	var stopping atomic.Bool
	var drainLimit atomic.Pointer[time.Timer]
	stop := context.AfterFunc(ctx, func() {
		stopping.Store(true)
		if !nc.IsConnected() {
			nc.Close()
			return
		}
		drainLimit.Store(time.AfterFunc(drainWait, nc.Close))
		it.Drain()
	})
	defer stop()
	defer func() {
		if t := drainLimit.Load(); t != nil {
			t.Stop()
		}
	}()
	fmt.Fprintf(stderr, "regnotify consume: reading stream %q from %s as consumer %q\n", *stream, notifications.RedactURL(nc.ConnectedUrl()), *durable)

	for {
		msg, err := it.Next()
		if errors.Is(err, natsjs.ErrMsgIteratorClosed) {
			if !stopping.Load() { // NATS gave up on the connection
				return connectionLost(nc)
			}
			fmt.Fprintln(stderr, "regnotify consume: stopped")
			return nil
		}
		if err != nil {
			return err
		}
		if stopping.Load() || ctx.Err() != nil { // the context first: stop's goroutine may not have run yet
			_ = msg.Nak()
			continue
		}
		if err := printEvent(msg, stdout, stderr); err != nil {
			return err
		}
	}
}

// connectionLost is the error when nc closed for good although consume
// was not stopping (NATS refused it again after a reconnect, say): an error,
// so that whatever runs consume sees a failure and can start it again.
func connectionLost(nc *nats.Conn) error {
	if err := nc.LastError(); err != nil {
		return fmt.Errorf("NATS closed the connection: %w", err)
	}
	return nats.ErrConnectionClosed
}

// drainWait bounds how long a stopping consume waits to hand back what it
// pulled ahead.
const drainWait = 2 * time.Second

// printEvent writes the event msg carries (its JSON, or a CloudEvent whose
// data it is) as a JSON line and acks msg. A message that is not an event,
// or whose event JSON cannot hold, is reported on stderr and terminated.
func printEvent(msg natsjs.Msg, stdout, stderr io.Writer) error {
	e, err := jetstream.DecodeMessage(msg)
	if err != nil {
		fmt.Fprintf(stderr, "regnotify consume: message on %q is not an event, dropped: %v\n", msg.Subject(), err)
		return msg.Term()
	}
	line, err := json.Marshal(e)
	if err != nil { // a value JSON cannot hold: it would stop every run here
		fmt.Fprintf(stderr, "regnotify consume: event on %q cannot be printed, dropped: %v\n", msg.Subject(), err)
		return msg.Term()
	}
	if _, err := stdout.Write(append(line, '\n')); err != nil {
		return err // not acked: the next run prints it again
	}
	return msg.Ack()
}
