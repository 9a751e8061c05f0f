package notifications

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBlockedReason(t *testing.T) {
	tests := []struct {
		addr string
		want string // "" when the address may be dialled
	}{
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"fec0::1", "private"},
		{"::ffff:10.0.0.1", "private"},
		{"::ffff:192.168.0.1", "private"},
		{"64:ff9b::a00:1", "private"}, // 10.0.0.1 through NAT64
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"::ffff:169.254.1.1", "link-local"},
		{"100.64.0.1", "shared address space (CGNAT)"},
		{"100.127.255.255", "shared address space (CGNAT)"},
		{"::ffff:100.64.0.1", "shared address space (CGNAT)"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"ff0e::1", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"::ffff:0.0.0.0", "unspecified"},
		{"255.255.255.255", "broadcast"},
		{"172.32.0.1", ""},
		{"100.128.0.1", ""},
		{"8.8.8.8", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
		{"2001:4860:4860::8888", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, blockedReason(netip.MustParseAddr(tt.addr)), tt.addr)
	}
	assert.Equal(t, "not an IP address", blockedReason(netip.Addr{}))
}

func TestCheckAddress(t *testing.T) {
	tests := []struct {
		address string
		wantErr string // "" when allowed
	}{
		{"127.0.0.1:80", "127.0.0.1 is loopback"},
		{"[::1]:443", "::1 is loopback"},
		{"[::ffff:10.0.0.1]:443", "10.0.0.1 is private"},
		{"example.com:80", "not an IP address and port"},
		{"8.8.8.8:53", ""},
	}
	for _, tt := range tests {
		err := checkAddress(tt.address)
		if tt.wantErr == "" {
			assert.NoError(t, err, tt.address)
			continue
		}
		require.ErrorIs(t, err, ErrBlockedAddress, tt.address)
		assert.Contains(t, err.Error(), tt.wantErr)
	}
}

// listenOrSkip listens on address, skipping the test where it cannot.
func listenOrSkip(t *testing.T, address string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", address)
	if err != nil {
		t.Skipf("cannot listen on %s here: %v", address, err)
	}
	return ln
}

func TestBlockPrivateNetworksRefusesLoopback(t *testing.T) {
	// plainDial is a caller's own dialer, which the guard cannot reach
	// into: it checks the connection's address after it connects.
	plainDial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	transports := []struct {
		name      string
		transport func() *http.Transport
		connects  bool // whether the refused connection reaches the server
	}{
		{"our transport", func() *http.Transport { return nil }, false},
		{"caller's transport", func() *http.Transport { return &http.Transport{Proxy: http.ProxyFromEnvironment} }, false},
		{"caller's dialer", func() *http.Transport { return &http.Transport{DialContext: plainDial} }, true},
	}
	for _, address := range []string{"127.0.0.1:0", "[::1]:0"} {
		for _, tt := range transports {
			t.Run(address+"/"+tt.name, func(t *testing.T) {
				ln := listenOrSkip(t, address)
				var conns atomic.Int32
				rc := newUnstartedReceiver(t, nil)
				require.NoError(t, rc.Listener.Close())
				rc.Listener = ln
				rc.Config.ConnState = func(_ net.Conn, s http.ConnState) {
					if s == http.StateNew {
						conns.Add(1)
					}
				}
				rc.Start()

				config := fastConfig()
				config.Headers = http.Header{"Authorization": {testAuthHeader}}
				config.Transport = tt.transport()
				config.BlockPrivateNetworks = true
				metrics := newEndpointMetrics()
				err := oneAttempt("guarded", newHTTPDeliverer(rc.URL, config), metrics, testEvents("g", 2))
				require.ErrorIs(t, err, ErrBlockedAddress)
				var de *DeliveryError
				require.True(t, errors.As(err, &de))
				assert.Equal(t, Retry, de.Delivery.Outcome)
				assert.Empty(t, de.Delivery.Status)
				assert.Contains(t, err.Error(), "is loopback")
				assert.Contains(t, err.Error(), `endpoint "guarded"`)
				assert.NotContains(t, err.Error(), "topsecret")

				var m EndpointMetrics
				metrics.read(&m)
				assert.Equal(t, 2, m.Errors, "a refused attempt counts as Errors")
				assert.Zero(t, m.Failures)
				assert.Empty(t, m.Statuses)
				assert.Empty(t, rc.requestHeaders(), "no request reached the server")
				if !tt.connects {
					assert.Zero(t, conns.Load(), "the guard refused before connecting")
				}
				if config.Transport != nil {
					if tt.connects {
						assert.NotNil(t, config.Transport.DialContext)
					} else {
						assert.Nil(t, config.Transport.DialContext, "the caller's transport is not modified")
						assert.NotNil(t, config.Transport.Proxy, "the caller's transport keeps its proxy")
					}
				}

				// The same endpoint without the guard reaches the server.
				config.BlockPrivateNetworks = false
				d := newHTTPDeliverer(rc.URL, config)
				defer d.Close()
				got := d.Deliver(t.Context(), testEvents("g", 1))
				require.NoError(t, got.Err)
				assert.Len(t, rc.received(), 1)
			})
		}
	}
}

func TestEndpointTransport(t *testing.T) {
	tests := []struct {
		name   string
		caller *http.Transport
		block  bool
	}{
		{"ours", nil, false},
		{"ours guarded", nil, true},
		{"caller's", &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConns: 3}, false},
		{"caller's guarded", &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConns: 3}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := endpointTransport(EndpointConfig{Transport: tt.caller, BlockPrivateNetworks: tt.block})
			require.NotNil(t, got)
			assert.NotSame(t, tt.caller, got, "the endpoint owns a transport of its own")
			assert.Equal(t, tt.block, got.Proxy == nil, "a guarded transport uses no proxy")
			if tt.block {
				assert.NotNil(t, got.DialContext, "a guarded transport dials through the guard")
			}
			if tt.caller == nil {
				assert.Equal(t, uint16(tls.VersionTLS12), got.TLSClientConfig.MinVersion, "TLS 1.2 or later")
				return
			}
			assert.Equal(t, 3, got.MaxIdleConns, "the clone keeps the caller's settings")
			assert.NotNil(t, tt.caller.Proxy, "the caller's transport is not modified")
			assert.Nil(t, tt.caller.DialContext, "the caller's transport is not modified")
		})
	}
}
