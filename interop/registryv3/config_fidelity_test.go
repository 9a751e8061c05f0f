package registryv3

import (
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	registrynotifications "github.com/distribution/distribution/v3/notifications"
	"github.com/stretchr/testify/require"

	"github.com/regnotify/notifications/interop/harness"
)

// The same registry configuration files go to distribution v3.1.2's
// configuration.Parse and to config.Parse (the relay is given their
// notifications section, pasted). They agree on every field the registry
// has: the endpoints and their order, names, URLs, headers, timeout,
// threshold, backoff (as parsed, and as the endpoints run), ignored media
// types and actions, disabled, includereferences.
func TestConfigAgreesWithRegistry(t *testing.T) { harness.CheckConfigAgrees(t, parseRegistry) }

// What the registry reads and config.Parse refuses, on purpose (the
// harness says why, case by case).
func TestConfigRefusesWhatRegistryReads(t *testing.T) { harness.CheckRefusedByUs(t, parseRegistry) }

// What config.Parse reads as documented and the registry refuses.
func TestConfigReadsWhatRegistryRefuses(t *testing.T) {
	harness.CheckRefusedByRegistry(t, parseRegistry)
}

// The registry's whole config.yml is not a relay's file.
func TestConfigWholeRegistryFile(t *testing.T) { harness.CheckWholeRegistryFile(t, parseRegistry) }

// parseRegistry parses doc with v3.1.2's configuration.Parse and, for each
// enabled endpoint, opens it as the registry does (handlers.App's
// configureEvents) to read the timeout, threshold and backoff it runs with.
func parseRegistry(t *testing.T, doc string) (harness.RegistryNotifications, error) {
	harness.RequireNoRegistryEnv(t)
	c, err := configuration.Parse(strings.NewReader(doc))
	if err != nil {
		return harness.RegistryNotifications{}, err
	}
	out := harness.RegistryNotifications{IncludeReferences: c.Notifications.EventConfig.IncludeReferences}
	for _, e := range c.Notifications.Endpoints {
		re := harness.RegistryEndpoint{
			Name: e.Name, Disabled: e.Disabled, URL: e.URL, Headers: e.Headers,
			Retry:             harness.Retry{Timeout: e.Timeout, Threshold: e.Threshold, Backoff: e.Backoff},
			IgnoredMediaTypes: e.IgnoredMediaTypes, IgnoreMediaTypes: e.Ignore.MediaTypes, IgnoreActions: e.Ignore.Actions,
		}
		if !e.Disabled {
			ep := registrynotifications.NewEndpoint(e.Name, e.URL, registrynotifications.EndpointConfig{
				Timeout: e.Timeout, Threshold: e.Threshold, Backoff: e.Backoff, Headers: e.Headers,
				IgnoredMediaTypes: e.IgnoredMediaTypes, Ignore: e.Ignore,
			})
			re.Effective = harness.Retry{Timeout: ep.Timeout, Threshold: ep.Threshold, Backoff: ep.Backoff}
			require.NoError(t, ep.Close())
		}
		out.Endpoints = append(out.Endpoints, re)
	}
	return out, nil
}
