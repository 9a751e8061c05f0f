package relay

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/receiver"
)

// EventsPath is where the HTTP ingress takes events.
const EventsPath = "/events"

// shutdownGrace bounds how long a stopping HTTP server waits for the
// requests it is answering.
const shutdownGrace = 10 * time.Second

// readTimeout bounds the reading of a request, its body included: a
// relay's largest body (10 MiB by default) in a minute is 170 KiB/s.
const readTimeout = time.Minute

// Handler returns the HTTP ingress's handler, for POST /events: the receiver
// package's handler (every body it accepts, with its answers and its dedupe
// by event ID), behind the bearer token when Config.Token is set (401
// without it). It answers 200 only once Write returned nil for the
// request's events, and 503 when an endpoint did not take them, so that the
// registry sends them again. Every call returns the same handler: however
// many ingresses serve it, one dedupe remembers the relay's events.
func (r *Relay) Handler() http.Handler {
	r.once.Do(func() {
		h := receiver.New(receiver.Config{
			Secrets:      r.cfg.Secrets,
			MaxBodyBytes: r.cfg.MaxBodyBytes,
			DedupeSize:   r.cfg.DedupeSize,
			DedupeBytes:  dedupeBytes(r.cfg.DedupeSize),
			Logger:       r.log,
		}, func(_ context.Context, events []notifications.Event) error {
			return r.Write(events)
		})
		if r.cfg.Token != "" {
			h = bearer(r.cfg.Token, h)
		}
		mux := http.NewServeMux()
		mux.Handle(EventsPath, h)
		r.handler = mux
	})
	return r.handler
}

// dedupeBytes is the memory the receiver's dedupe may take to remember
// size IDs of a registry's (UUIDs: 36 bytes, and the receiver's 64 of
// bookkeeping each), at least its default: longer IDs are remembered
// fewer.
func dedupeBytes(size int) int64 {
	return max(receiver.DefaultDedupeBytes, int64(size)*(36+64))
}

// bearer answers 401 to requests without "Authorization: Bearer <token>",
// comparing in constant time.
func bearer(token string, next http.Handler) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		scheme, got, _ := strings.Cut(req.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="regnotify relay"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// HTTPIngress serves the relay's Handler on Listener: registries POST their
// notifications to it.
type HTTPIngress struct {
	// Listener is where the ingress listens. Serve closes it.
	Listener net.Listener
}

var _ Ingress = (*HTTPIngress)(nil)

// Serve answers requests until ctx is cancelled or the listener fails, then
// stops taking new connections and waits (at most 10s) for the requests it
// is answering.
func (in *HTTPIngress) Serve(ctx context.Context, r *Relay) error {
	r.log.WithField("address", in.Listener.Addr().String()).Info("relay: taking events at POST " + EventsPath)
	return Serve(ctx, in.Listener, r.Handler())
}

// Serve runs an HTTP server with handler on ln (a request read within a
// minute, a kept-alive connection closed after 2 idle minutes) until ctx is
// cancelled or ln fails, then shuts it down, waiting at most 10s for the
// requests it is answering (then closing their connections): once it
// returned, no new request reaches handler. It closes ln. It returns ln's
// error, if ln failed, or the shutdown's.
func Serve(ctx context.Context, ln net.Listener, handler http.Handler) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout,     // a body sent a byte a minute holds no connection for ever
		IdleTimeout:       2 * time.Minute, // nor does a kept-alive connection that sends nothing
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-done: // the connections it accepted still run
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(shutdown)
	if err != nil {
		_ = srv.Close() // the requests still running lose their connections
	}
	if serveErr == nil {
		serveErr = <-done
	}
	if !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}
