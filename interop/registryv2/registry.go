// Package registryv2 runs docker/distribution v2.8.3 (what the registry:2
// image runs) in-process for tests: in-memory storage, deletes enabled,
// notifications sent to a URL.
package registryv2

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/docker/distribution/configuration"
	"github.com/docker/distribution/registry/handlers"
	_ "github.com/docker/distribution/registry/storage/driver/inmemory" // the "inmemory" driver
	"github.com/regnotify/notifications/interop/harness"
	"github.com/sirupsen/logrus"
)

// Version is the docker/distribution release this package runs.
const Version = "v2.8.3"

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
			"maintenance": configuration.Parameters{"uploadpurging": map[interface{}]interface{}{"enabled": false}},
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
	app := handlers.NewApp(context.Background(), config)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return &harness.Client{T: t, BaseURL: srv.URL, HTTP: srv.Client()}
}
