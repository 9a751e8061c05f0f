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
		{"127.0.0.1", "loopback (RFC 1122)"},
		{"::1", "loopback (RFC 4291)"},
		{"::ffff:127.0.0.1", "loopback (RFC 1122)"},
		{"10.1.2.3", "private-use (RFC 1918)"},
		{"fd12:3456::1", "unique-local (RFC 4193)"},
		{"fe80::1%eth0", "link-local (RFC 4291)"},
		{"169.254.169.254", "link-local (RFC 3927)"},
		{"100.64.0.1", "shared address space, CGNAT (RFC 6598)"},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"fec0::1", "reserved IPv6 space, outside global unicast 2000::/3"},
		{"::8.8.8.8", "reserved IPv6 space, outside global unicast 2000::/3"}, // IPv4-compatible, deprecated
		{"0.1.2.3", `"this network" (RFC 791)`},
		{"0.0.0.0", `"this host on this network" (RFC 1122)`},
		{"255.255.255.255", "limited broadcast (RFC 919)"},
		{"64:ff9b::a00:1", "NAT64 (RFC 6052) carrying 10.0.0.1, which is private-use (RFC 1918)"},
		{"2002:a9fe:a9fe::1", "6to4 (RFC 3056) carrying 169.254.169.254, which is link-local (RFC 3927)"},
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

// registryEntries is every entry of the IANA IPv4 and IPv6 Special-Purpose
// Address Registries (as read on 2026-12-01), written out apart from
// specialBlocks, with whether BlockPrivateNetworks refuses the first and the
// last address of the block.
var registryEntries = []struct {
	block                     string
	firstBlocked, lastBlocked bool
}{
	// IPv4: Globally Reachable False unless noted.
	{"0.0.0.0/8", true, true},
	{"0.0.0.0/32", true, true},
	{"10.0.0.0/8", true, true},
	{"100.64.0.0/10", true, true},
	{"127.0.0.0/8", true, true},
	{"169.254.0.0/16", true, true},
	{"172.16.0.0/12", true, true},
	{"192.0.0.0/24", true, true},
	{"192.0.0.0/29", true, true},
	{"192.0.0.8/32", true, true},
	{"192.0.0.9/32", false, false},  // True
	{"192.0.0.10/32", false, false}, // True
	{"192.0.0.170/32", true, true},
	{"192.0.0.171/32", true, true},
	{"192.0.2.0/24", true, true},
	{"192.31.196.0/24", false, false}, // True
	{"192.52.193.0/24", false, false}, // True
	{"192.88.99.0/24", true, true},    // deprecated, empty: refused
	{"192.88.99.2/32", true, true},
	{"192.168.0.0/16", true, true},
	{"192.175.48.0/24", false, false}, // True
	{"198.18.0.0/15", true, true},
	{"198.51.100.0/24", true, true},
	{"203.0.113.0/24", true, true},
	{"240.0.0.0/4", true, true},
	{"255.255.255.255/32", true, true},
	// IPv6.
	{"::1/128", true, true},
	{"::/128", true, true},
	{"::ffff:0:0/96", true, true}, // judged as IPv4: 0.0.0.0 and 255.255.255.255
	{"64:ff9b::/96", true, true},  // True, judged by the IPv4 carried: 0.0.0.0 and 255.255.255.255
	{"64:ff9b:1::/48", true, true},
	{"100::/64", true, true},
	{"100:0:0:1::/64", true, true},
	{"2001::/23", true, true},       // the first is Teredo carrying 0.0.0.0
	{"2001::/32", true, true},       // N/A: Teredo carrying 0.0.0.0, then 255.255.255.255
	{"2001:1::1/128", false, false}, // True
	{"2001:1::2/128", false, false}, // True
	{"2001:1::3/128", false, false}, // True
	{"2001:2::/48", true, true},
	{"2001:3::/32", false, false},     // True
	{"2001:4:112::/48", false, false}, // True
	{"2001:10::/28", true, true},      // deprecated, empty: refused
	{"2001:20::/28", false, false},    // True
	{"2001:30::/28", false, false},    // True
	{"2001:db8::/32", true, true},
	{"2002::/16", true, true},           // N/A: 6to4 carrying 0.0.0.0, then 255.255.255.255
	{"2620:4f:8000::/48", false, false}, // True
	{"3fff::/20", true, true},
	{"5f00::/16", true, true},
	{"fc00::/7", true, true},
	{"fe80::/10", true, true},
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestBlockedReasonEveryRegistryEntry(t *testing.T) {
	listed := make(map[netip.Prefix]bool)
	for _, e := range registryEntries {
		p := netip.MustParsePrefix(e.block)
		listed[p] = true
		first, last := p.Masked().Addr(), lastAddr(p)
		assert.Equal(t, e.firstBlocked, blockedReason(first) != "", "%s, first address %s: %q", e.block, first, blockedReason(first))
		assert.Equal(t, e.lastBlocked, blockedReason(last) != "", "%s, last address %s: %q", e.block, last, blockedReason(last))
	}
	for _, b := range specialBlocks {
		assert.True(t, listed[b.prefix], "%s is in specialBlocks but not tested here", b.prefix)
	}
	assert.Len(t, specialBlocks, len(registryEntries))
}

func TestBlockedReasonEmbeddedIPv4(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		// The cases of issue 11.
		{"192.0.0.192", true},
		{"198.18.0.1", true},
		{"198.19.255.255", true},
		{"240.0.0.1", true},
		{"192.0.2.1", true},
		{"64:ff9b:1::a9fe:a9fe", true}, // 169.254.169.254 behind a local-use NAT64 prefix
		// 192.0.2.1 in every IPv6 form.
		{"::ffff:192.0.2.1", true},
		{"64:ff9b::c000:201", true},
		{"2002:c000:201::1", true},
		{"2001:0:4136:e378:8000:63bf:3fff:fdfe", true}, // Teredo client 192.0.2.1 (obfuscated), public server
		{"2001:0:c000:201:8000:63bf:f7f7:f7f7", true},  // Teredo server 192.0.2.1, public client 8.8.8.8
		// The same forms of a public address.
		{"64:ff9b::808:808", false},
		{"2002:808:808::1", false},
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", false}, // client 8.8.8.8, server 65.54.227.120
		// Neighbours that are public.
		{"192.0.3.0", false},
		{"198.17.255.255", false},
		{"198.20.0.0", false},
		{"239.255.255.255", true}, // multicast
		{"223.255.255.255", false},
		{"64:ff9b:2::1", true}, // outside 2000::/3, no registry entry
		{"2001:200::1", false}, // just past 2001::/23
	}
	for _, tt := range tests {
		reason := blockedReason(netip.MustParseAddr(tt.addr))
		assert.Equal(t, tt.blocked, reason != "", "%s: %q", tt.addr, reason)
	}
}

func TestCheckAddress(t *testing.T) {
	tests := []struct {
		address string
		wantErr string // "" when allowed
	}{
		{"127.0.0.1:80", "127.0.0.1 is loopback"},
		{"[::1]:443", "::1 is loopback"},
		{"[::ffff:10.0.0.1]:443", "10.0.0.1 is private-use"},
		{"192.0.0.192:80", "192.0.0.192 is IETF protocol assignments"},
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
	// into: the endpoint dials through the guard instead.
	plainDial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	transports := []struct {
		name      string
		transport func() *http.Transport
	}{
		{"our transport", func() *http.Transport { return nil }},
		{"caller's transport", func() *http.Transport { return &http.Transport{Proxy: http.ProxyFromEnvironment} }},
		{"caller's dialer", func() *http.Transport { return &http.Transport{DialContext: plainDial} }},
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
				assert.Zero(t, conns.Load(), "the guard refused before connecting")
				if caller := tt.transport(); caller != nil {
					assert.Equal(t, caller.DialContext == nil, config.Transport.DialContext == nil, "the caller's transport is not modified")
					assert.Equal(t, caller.Proxy == nil, config.Transport.Proxy == nil, "the caller's transport keeps its proxy")
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
