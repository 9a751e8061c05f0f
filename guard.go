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
// reserved and the like: the README's Security section lists them), or is
// multicast, or is an IPv6 form (NAT64, 6to4, Teredo) of such an IPv4
// address. Such attempts count as Errors.
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

// endpointTransport returns the transport an HTTP endpoint owns: a clone of
// config.Transport, or newTransport when it is nil. The caller's transport is
// never modified, nor used to send; the endpoint closes its clone's idle
// connections when it is closed.
//
// With config.BlockPrivateNetworks, the clone dials through guardedDialer,
// whose Control checks each address before the socket connects, and uses no
// proxy. The caller's own dial functions are dropped: the guard cannot see
// into them, and checking the connection they return would be too late, the
// blocked host having seen a TCP handshake (or a TLS one). OpenEndpoint
// refuses such a transport (checkTransport); NewEndpoint logs that error and
// dials through the guard.
//
// The clone's plain-HTTP (not TLS) connections write request bodies with
// writev (see dialVectored), when it has a DialContext: the default
// transport's, the guard's or the caller's.
func endpointTransport(config EndpointConfig) *http.Transport {
	var t *http.Transport
	if config.Transport == nil {
		t = newTransport()
	} else {
		t = config.Transport.Clone()
	}
	if config.BlockPrivateNetworks {
		t.DialContext = guardedDialer().DialContext
		t.Dial = nil           // deprecated, the caller's
		t.DialTLSContext = nil // TLS runs over the guarded connection, with TLSClientConfig
		t.DialTLS = nil        // deprecated, the caller's
		t.Proxy = nil          // a proxy connects to an address the guard cannot see
		t.OnProxyConnectResponse = nil
	}
	if t.DialContext != nil { // else net/http's own dialer: setting one would turn HTTP/2 off
		t.DialContext = dialVectored(t.DialContext)
	}
	return t
}

// checkTransport returns an error when config.BlockPrivateNetworks is set and
// config.Transport has a dial function of its own, which the guard cannot
// check before it connects.
func checkTransport(config EndpointConfig) error {
	t := config.Transport
	if !config.BlockPrivateNetworks || t == nil {
		return nil
	}
	var field string
	switch {
	case t.DialContext != nil:
		field = "DialContext"
	case t.DialTLSContext != nil:
		field = "DialTLSContext"
	case t.Dial != nil: // deprecated
		field = "Dial"
	case t.DialTLS != nil: // deprecated
		field = "DialTLS"
	default:
		return nil
	}
	return fmt.Errorf("BlockPrivateNetworks cannot check the addresses Transport.%s connects to before it connects: "+
		"leave DialContext, DialTLSContext, Dial and DialTLS nil (a clone of http.DefaultTransport sets DialContext), "+
		"and the endpoint dials with a guarded net.Dialer, TLS by TLSClientConfig", field)
}

// guardedDialer is the dialer of http.DefaultTransport with guardControl.
func guardedDialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, ControlContext: guardControl}
}
