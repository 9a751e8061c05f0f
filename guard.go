package notifications

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrBlockedAddress is wrapped by the error of a delivery attempt that
// BlockPrivateNetworks refused: the endpoint's address is not globally
// reachable according to the IANA Special-Purpose Address Registries
// (loopback, private-use, link-local, shared, documentation, benchmarking,
// reserved and the like; see specialBlocks), or is multicast, or is an IPv6
// form (NAT64, 6to4, Teredo) of such an IPv4 address. Such attempts count as
// Errors.
var ErrBlockedAddress = errors.New("notifications: address refused by BlockPrivateNetworks")

// checkAddress returns an error wrapping ErrBlockedAddress when the
// "host:port" address may not be dialled. An address that is not an IP and
// port is refused: the guard fails closed.
func checkAddress(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address and port", ErrBlockedAddress, address)
	}
	if reason := blockedReason(ap.Addr()); reason != "" {
		return fmt.Errorf("%w: %s is %s", ErrBlockedAddress, ap.Addr(), reason)
	}
	return nil
}

// guardControl is a net.Dialer ControlContext that refuses blocked
// addresses. It runs for every address the dialer tries, after name
// resolution and before connecting, so a name that resolves to another
// address later (DNS rebinding) is checked again.
func guardControl(_ context.Context, _, address string, _ syscall.RawConn) error {
	return checkAddress(address)
}

// dialFunc is the signature of http.Transport.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// guardDialAfter wraps a dial function that the guard cannot reach into: it
// checks the address each new connection reached and closes it, before any
// byte was written, when that address is blocked.
func guardDialAfter(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := checkAddress(conn.RemoteAddr().String()); err != nil {
			_ = conn.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Addr: conn.RemoteAddr(), Err: err}
		}
		return conn, nil
	}
}

// endpointTransport returns the transport an HTTP endpoint owns: a clone of
// config.Transport, or newTransport when it is nil, guarded when
// config.BlockPrivateNetworks is set. The caller's transport is never
// modified, nor used to send; the endpoint closes its clone's idle
// connections when it is closed.
func endpointTransport(config EndpointConfig) *http.Transport {
	if config.Transport == nil {
		t := newTransport()
		if config.BlockPrivateNetworks {
			t.DialContext = guardedDialer().DialContext
			guardTransport(t)
		}
		return t
	}
	t := config.Transport.Clone()
	if config.BlockPrivateNetworks {
		switch {
		case t.DialContext != nil:
			t.DialContext = guardDialAfter(t.DialContext)
		case t.Dial != nil: // the caller's deprecated Dial
			dial := t.Dial
			t.Dial = nil
			t.DialContext = guardDialAfter(func(_ context.Context, network, addr string) (net.Conn, error) {
				return dial(network, addr)
			})
		default:
			t.DialContext = guardedDialer().DialContext
		}
		guardTransport(t)
	}
	return t
}

// guardTransport completes the guard of t, whose DialContext is already
// guarded: custom TLS dialers are checked after they connect, and no proxy is
// used, since a proxy connects on the endpoint's behalf to an address the
// guard cannot see.
func guardTransport(t *http.Transport) {
	t.Proxy = nil
	t.OnProxyConnectResponse = nil
	if t.DialTLSContext != nil {
		t.DialTLSContext = guardDialAfter(t.DialTLSContext)
	}
	if t.DialTLS != nil { // the caller's deprecated DialTLS
		dial := t.DialTLS
		t.DialTLS = nil
		if t.DialTLSContext == nil {
			t.DialTLSContext = guardDialAfter(func(_ context.Context, network, addr string) (net.Conn, error) {
				return dial(network, addr)
			})
		}
	}
}

// guardedDialer is the dialer of http.DefaultTransport with guardControl.
func guardedDialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, ControlContext: guardControl}
}
