package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/regnotify/notifications"
)

// Paths of the operations handler.
const (
	MetricsPath = "/metrics"
	HealthPath  = "/healthz"
)

// EndpointStatus is where an endpoint stands, as /healthz and the status
// logs report it.
type EndpointStatus struct {
	Name      string `json:"name"`
	State     string `json:"state"` // "idle", "delivering" or "failing"
	Pending   int    `json:"pending"`
	Delivered int    `json:"delivered"`
	Failures  int    `json:"failures"`
	Errors    int    `json:"errors"`
	Dropped   int    `json:"dropped"`
}

// Status returns where each endpoint stands, in the order of the targets.
func (r *Relay) Status() []EndpointStatus {
	out := make([]EndpointStatus, len(r.cfg.Targets))
	for i, t := range r.cfg.Targets {
		out[i] = status(t.Endpoint, nil)
	}
	return out
}

// status reads e's metrics. The state is "failing" when events are pending
// and the last attempt was not accepted, or the spool could not be read
// since (EndpointMetrics.Failing), or
// failures or errors grew since before (when given: the last status line);
// "delivering" when events are pending; "idle" otherwise.
func status(e *notifications.Endpoint, before *EndpointStatus) EndpointStatus {
	var m notifications.EndpointMetrics
	e.ReadMetrics(&m)
	s := EndpointStatus{Name: e.Name(), Pending: m.Pending, Delivered: m.Successes, Failures: m.Failures, Errors: m.Errors, Dropped: m.Dropped, State: "idle"}
	grew := before != nil && (s.Failures > before.Failures || s.Errors > before.Errors)
	switch {
	case s.Pending > 0 && (m.Failing || grew):
		s.State = "failing"
	case s.Pending > 0:
		s.State = "delivering"
	}
	return s
}

// Operations returns the handler of the operations address: metrics (when
// not nil) at GET /metrics, and GET /healthz, which answers 200 with the
// endpoints' status as JSON while the relay runs and 503 once it is
// stopping.
func (r *Relay) Operations(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	if metrics != nil {
		mux.Handle("GET "+MetricsPath, metrics)
	}
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		code, state := http.StatusOK, "running"
		if r.Stopping() {
			code, state = http.StatusServiceUnavailable, "stopping"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(struct {
			State     string           `json:"state"`
			Endpoints []EndpointStatus `json:"endpoints"`
		}{state, r.Status()})
	})
	return mux
}

// logTargets logs each endpoint as the relay starts.
func (r *Relay) logTargets() {
	for _, t := range r.cfg.Targets {
		e := t.Endpoint
		fields := map[string]any{"endpoint": e.Name(), "spool": e.SpoolDir != "", "closetimeout": e.CloseTimeout.String()}
		if s := status(e, nil); s.Pending > 0 {
			fields["pending"] = s.Pending
		}
		r.log.WithFields(fields).Info("relay: endpoint ready")
	}
}

// logStatusEvery logs each endpoint's status every StatusInterval until ctx
// is done.
func (r *Relay) logStatusEvery(ctx context.Context) {
	last := r.Status()
	tick := time.NewTicker(r.cfg.StatusInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i, t := range r.cfg.Targets {
			s := status(t.Endpoint, &last[i])
			r.log.WithFields(map[string]any{
				"endpoint": s.Name, "state": s.State, "pending": s.Pending,
				"delivered": s.Delivered - last[i].Delivered, "failures": s.Failures - last[i].Failures,
				"errors": s.Errors - last[i].Errors, "dropped": s.Dropped - last[i].Dropped,
			}).Info("relay: endpoint status (counts since the last line)")
			last[i] = s
		}
	}
}

// logClosed logs how an endpoint's Close ended.
func (r *Relay) logClosed(e *notifications.Endpoint, err error) {
	log := r.log.WithField("endpoint", e.Name())
	var undelivered *notifications.UndeliveredError
	switch {
	case err == nil:
		log.Info("relay: endpoint closed, everything delivered")
	case errors.As(err, &undelivered):
		log.WithError(err).Warn("relay: endpoint closed with events left")
	default:
		log.WithError(err).Error("relay: endpoint close failed")
	}
}
