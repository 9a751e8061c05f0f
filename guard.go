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
// BlockPrivateNetworks refused: the endpoint's address is loopback, private,
// link-local, shared (CGNAT), multicast or unspecified. Such attempts count as
// Errors.
var ErrBlockedAddress = errors.New("notifications: address refused by BlockPrivateNetworks")

// Address ranges that netip.Addr has no predicate for.
var (
	sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598, carrier-grade NAT
	thisNetwork        = netip.MustParsePrefix("0.0.0.0/8")     // RFC 791: "this host on this network"
	limitedBroadcast   = netip.MustParseAddr("255.255.255.255")
	siteLocal          = netip.MustParsePrefix("fec0::/10")    // deprecated IPv6 site-local, still routed privately
	nat64              = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: an IPv4 address behind a NAT64 gateway
)

// blockedReason says why BlockPrivateNetworks refuses ip, or returns "" when
// ip may be dialled. IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) and NAT64
// addresses (64:ff9b::10.0.0.1) are judged by the IPv4 address they carry.
func blockedReason(ip netip.Addr) string {
	ip = ip.Unmap()
	if nat64.Contains(ip.WithZone("")) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case !ip.IsValid():
		return "not an IP address"
	case ip.IsUnspecified(), thisNetwork.Contains(ip):
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate(), siteLocal.Contains(ip.WithZone("")):
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case sharedAddressSpace.Contains(ip):
		return "shared address space (CGNAT)"
	case ip.IsMulticast():
		return "multicast"
	case ip == limitedBroadcast:
		return "broadcast"
	}
	return ""
}

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
