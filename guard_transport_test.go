package notifications

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connCounter is a TCP listener on loopback that counts the connections
// made to it.
type connCounter struct {
	ln       net.Listener
	accepted chan string // the remote address of each connection
}

func newConnCounter(t *testing.T) *connCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := &connCounter{ln: ln, accepted: make(chan string, 100)}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.accepted <- conn.RemoteAddr().String()
			_ = conn.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return c
}

// connections returns how many connections were made before this call: it
// makes one more, waits until it is accepted, and does not count it.
// Connections are accepted in order, so every earlier one has been counted.
func (c *connCounter) connections(t *testing.T) int {
	t.Helper()
	marker, err := net.Dial("tcp", c.ln.Addr().String())
	require.NoError(t, err)
	defer marker.Close()
	n := 0
	for from := range c.accepted {
		if from == marker.LocalAddr().String() {
			break
		}
		n++
	}
	return n
}

func TestBlockPrivateNetworksBeforeAnyPacket(t *testing.T) {
	var dialed atomic.Int32
	plainDial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tests := []struct {
		name      string
		scheme    string
		transport func() *http.Transport
		refused   string // the field OpenEndpoint names; "" when it accepts the transport
	}{
		{"DialContext", "http", func() *http.Transport { return &http.Transport{DialContext: plainDial} }, "DialContext"},
		{"clone of http.DefaultTransport", "http", func() *http.Transport {
			return http.DefaultTransport.(*http.Transport).Clone()
		}, "DialContext"},
		{"DialTLSContext", "https", func() *http.Transport { return &http.Transport{DialTLSContext: plainDial} }, "DialTLSContext"},
		{"Dial", "http", func() *http.Transport {
			return &http.Transport{Dial: func(network, addr string) (net.Conn, error) {
				return plainDial(context.Background(), network, addr)
			}}
		}, "Dial"},
		{"DialTLS", "https", func() *http.Transport {
			return &http.Transport{DialTLS: func(network, addr string) (net.Conn, error) {
				return plainDial(context.Background(), network, addr)
			}}
		}, "DialTLS"},
		{"TLS settings only", "https", func() *http.Transport {
			return &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13}}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dialed.Store(0)
			counter := newConnCounter(t)
			url := tt.scheme + "://" + counter.ln.Addr().String() + "/"
			config := fastConfig()
			config.Transport = tt.transport()
			config.BlockPrivateNetworks = true

			// 127.0.0.1 is refused up front as an IP address; a name that
			// resolves to it is refused when dialled. Both: no packet.
			e, err := OpenEndpoint("guarded", "http://localhost/", config)
			if err == nil {
				require.NoError(t, e.Close())
			}
			if tt.refused == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrInvalidConfig)
				assert.ErrorContains(t, err, "Transport."+tt.refused+" ")
			}

			// NewEndpoint cannot refuse: it dials through the guard instead
			// of the caller's functions.
			d := newHTTPDeliverer(url, config)
			defer d.Close()
			got := d.Deliver(t.Context(), testEvents("g", 1))
			require.ErrorIs(t, got.Err, ErrBlockedAddress)
			assert.Zero(t, counter.connections(t), "the blocked listener saw no connection")
			assert.Zero(t, dialed.Load(), "the caller's dial function was not used")
		})
	}
}
