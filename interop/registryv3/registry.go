// Package registryv3 runs distribution v3.1.2 in-process for tests: in-memory
// storage, deletes enabled, notifications sent to a URL.
package registryv3

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // the "inmemory" driver
	"github.com/regnotify/notifications/interop/harness"
	"github.com/sirupsen/logrus"
)

// Version is the distribution release this package runs.
const Version = "v3.1.2"

// Start runs a registry whose notifications go to notifyURL (with
// references included in manifest events) and returns a client for it.
// The registry stops when the test ends.
func Start(t testing.TB, notifyURL string) *harness.Client {
	t.Helper()
	logrus.SetLevel(logrus.ErrorLevel) // the registry logs every request
	config := &configuration.Configuration{
		Storage: configuration.Storage{
			"inmemory":    configuration.Parameters{},
			"delete":      configuration.Parameters{"enabled": true},
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		},
		Notifications: configuration.Notifications{
			EventConfig: configuration.Events{IncludeReferences: true},
			Endpoints: []configuration.Endpoint{{
				Name: "regnotify", URL: notifyURL, Timeout: 5 * time.Second, Threshold: 3, Backoff: 10 * time.Millisecond,
			}},
		},
	}
	config.HTTP.Secret = "interop"
	config.Log.Level = "error"
	ctx, cancel := context.WithCancel(context.Background())
	app := handlers.NewApp(ctx, config)
	srv := httptest.NewServer(app)
	t.Cleanup(func() {
		srv.Close()
		_ = app.Shutdown()
		cancel()
	})
	return &harness.Client{T: t, BaseURL: srv.URL, HTTP: srv.Client()}
}
