package notifications

import (
	"encoding/binary"
	"net/netip"
)

// specialBlock is one entry of an IANA Special-Purpose Address Registry.
type specialBlock struct {
	prefix netip.Prefix
	reason string // the registry's name for the block, and its RFC
	global bool   // the registry's "Globally Reachable" column
	// embeds is set for the blocks whose reachability is that of the IPv4
	// addresses they carry (the registry says True or N/A for them):
	// BlockPrivateNetworks judges those instead.
	embeds func(netip.Addr) []netip.Addr
}

// specialBlocks lists every entry of the two IANA registries:
//
//   - IANA IPv4 Special-Purpose Address Registry,
//     https://www.iana.org/assignments/iana-ipv4-special-registry/
//   - IANA IPv6 Special-Purpose Address Registry,
//     https://www.iana.org/assignments/iana-ipv6-special-registry/
//     (last updated 2025-10-09)
//
// both as read on 2026-12-01 (25 rows each, the IPv4 row "192.0.0.170/32,
// 192.0.0.171/32" being two entries here; RFC 6890 defines the columns). An address is judged by the most specific entry holding it, so
// 192.0.0.9/32 (globally reachable) is allowed inside 192.0.0.0/24 (not).
// Entries whose Globally Reachable column is empty (the deprecated 6to4
// relay anycast 192.88.99.0/24 and ORCHID 2001:10::/28) count as not
// globally reachable; those it gives as N/A (Teredo 2001::/32, 6to4
// 2002::/16) are judged by the IPv4 addresses they carry, as is the NAT64
// well-known prefix 64:ff9b::/96. Outside these registries, blockedReason
// also refuses multicast and the IPv6 space outside 2000::/3 that the IANA
// IPv6 Address Space registry keeps "Reserved by IETF".
var specialBlocks = []specialBlock{
	// IPv4
	{prefix: pfx("0.0.0.0/8"), reason: `"this network" (RFC 791)`},
	{prefix: pfx("0.0.0.0/32"), reason: `"this host on this network" (RFC 1122)`},
	{prefix: pfx("10.0.0.0/8"), reason: "private-use (RFC 1918)"},
	{prefix: pfx("100.64.0.0/10"), reason: "shared address space, CGNAT (RFC 6598)"},
	{prefix: pfx("127.0.0.0/8"), reason: "loopback (RFC 1122)"},
	{prefix: pfx("169.254.0.0/16"), reason: "link-local (RFC 3927)"},
	{prefix: pfx("172.16.0.0/12"), reason: "private-use (RFC 1918)"},
	{prefix: pfx("192.0.0.0/24"), reason: "IETF protocol assignments (RFC 6890)"},
	{prefix: pfx("192.0.0.0/29"), reason: "IPv4 service continuity prefix (RFC 7335)"},
	{prefix: pfx("192.0.0.8/32"), reason: "IPv4 dummy address (RFC 7600)"},
	{prefix: pfx("192.0.0.9/32"), reason: "Port Control Protocol anycast (RFC 7723)", global: true},
	{prefix: pfx("192.0.0.10/32"), reason: "TURN anycast (RFC 8155)", global: true},
	{prefix: pfx("192.0.0.170/32"), reason: "NAT64/DNS64 discovery (RFC 8880)"},
	{prefix: pfx("192.0.0.171/32"), reason: "NAT64/DNS64 discovery (RFC 8880)"},
	{prefix: pfx("192.0.2.0/24"), reason: "documentation, TEST-NET-1 (RFC 5737)"},
	{prefix: pfx("192.31.196.0/24"), reason: "AS112-v4 (RFC 7535)", global: true},
	{prefix: pfx("192.52.193.0/24"), reason: "AMT (RFC 7450)", global: true},
	{prefix: pfx("192.88.99.0/24"), reason: "deprecated 6to4 relay anycast (RFC 7526)"},
	{prefix: pfx("192.88.99.2/32"), reason: "6a44-relay anycast (RFC 6751)"},
	{prefix: pfx("192.168.0.0/16"), reason: "private-use (RFC 1918)"},
	{prefix: pfx("192.175.48.0/24"), reason: "direct delegation AS112 service (RFC 7534)", global: true},
	{prefix: pfx("198.18.0.0/15"), reason: "benchmarking (RFC 2544)"},
	{prefix: pfx("198.51.100.0/24"), reason: "documentation, TEST-NET-2 (RFC 5737)"},
	{prefix: pfx("203.0.113.0/24"), reason: "documentation, TEST-NET-3 (RFC 5737)"},
	{prefix: pfx("240.0.0.0/4"), reason: "reserved (RFC 1112)"},
	{prefix: pfx("255.255.255.255/32"), reason: "limited broadcast (RFC 919)"},

	// IPv6. IPv4-mapped addresses (::ffff:0:0/96) never reach this table:
	// they are dialled, and judged, as the IPv4 address they map.
	{prefix: pfx("::1/128"), reason: "loopback (RFC 4291)"},
	{prefix: pfx("::/128"), reason: "unspecified (RFC 4291)"},
	{prefix: pfx("::ffff:0:0/96"), reason: "IPv4-mapped (RFC 4291)"},
	{prefix: pfx("64:ff9b::/96"), reason: "NAT64 (RFC 6052)", global: true, embeds: nat64IPv4},
	{prefix: pfx("64:ff9b:1::/48"), reason: "local-use NAT64 (RFC 8215)"},
	{prefix: pfx("100::/64"), reason: "discard-only (RFC 6666)"},
	{prefix: pfx("100:0:0:1::/64"), reason: "dummy IPv6 prefix (RFC 9780)"},
	{prefix: pfx("2001::/23"), reason: "IETF protocol assignments (RFC 2928)"},
	{prefix: pfx("2001::/32"), reason: "Teredo (RFC 4380)", embeds: teredoIPv4},
	{prefix: pfx("2001:1::1/128"), reason: "Port Control Protocol anycast (RFC 7723)", global: true},
	{prefix: pfx("2001:1::2/128"), reason: "TURN anycast (RFC 8155)", global: true},
	{prefix: pfx("2001:1::3/128"), reason: "DNS-SD service registration anycast (RFC 9665)", global: true},
	{prefix: pfx("2001:2::/48"), reason: "benchmarking (RFC 5180)"},
	{prefix: pfx("2001:3::/32"), reason: "AMT (RFC 7450)", global: true},
	{prefix: pfx("2001:4:112::/48"), reason: "AS112-v6 (RFC 7535)", global: true},
	{prefix: pfx("2001:10::/28"), reason: "deprecated ORCHID (RFC 4843)"},
	{prefix: pfx("2001:20::/28"), reason: "ORCHIDv2 (RFC 7343)", global: true},
	{prefix: pfx("2001:30::/28"), reason: "drone remote ID DETs (RFC 9374)", global: true},
	{prefix: pfx("2001:db8::/32"), reason: "documentation (RFC 3849)"},
	{prefix: pfx("2002::/16"), reason: "6to4 (RFC 3056)", embeds: sixToFourIPv4},
	{prefix: pfx("2620:4f:8000::/48"), reason: "direct delegation AS112 service (RFC 7534)", global: true},
	{prefix: pfx("3fff::/20"), reason: "documentation (RFC 9637)"},
	{prefix: pfx("5f00::/16"), reason: "segment routing SIDs (RFC 9602)"},
	{prefix: pfx("fc00::/7"), reason: "unique-local (RFC 4193)"},
	{prefix: pfx("fe80::/10"), reason: "link-local (RFC 4291)"},
}

// Address space outside the special-purpose registries.
var (
	multicast4    = pfx("224.0.0.0/4") // IANA IPv4 Multicast Address Space registry
	multicast6    = pfx("ff00::/8")    // IANA IPv6 Multicast Address Space registry
	globalUnicast = pfx("2000::/3")    // IANA IPv6 Address Space: the rest is "Reserved by IETF", or fc00::/7, fe80::/10, ff00::/8
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// blockedReason says why BlockPrivateNetworks refuses ip, or returns "" when
// ip may be dialled: ip is refused unless it is globally reachable according
// to specialBlocks. IPv4-mapped addresses (::ffff:10.0.0.1) are judged as the
// IPv4 address they map; NAT64 (64:ff9b::/96), 6to4 and Teredo addresses
// are refused when an IPv4 address they carry is.
func blockedReason(ip netip.Addr) string {
	if !ip.IsValid() {
		return "not an IP address"
	}
	ip = ip.WithZone("").Unmap()
	var match *specialBlock
	for i := range specialBlocks {
		b := &specialBlocks[i]
		if b.prefix.Contains(ip) && (match == nil || b.prefix.Bits() > match.prefix.Bits()) {
			match = b
		}
	}
	switch {
	case match != nil && match.embeds != nil:
		for _, v4 := range match.embeds(ip) {
			if reason := blockedReason(v4); reason != "" {
				return match.reason + " carrying " + v4.String() + ", which is " + reason
			}
		}
		return ""
	case match != nil && !match.global:
		return match.reason
	case match != nil:
		return ""
	case multicast4.Contains(ip), multicast6.Contains(ip):
		return "multicast"
	case ip.Is6() && !globalUnicast.Contains(ip):
		return "reserved IPv6 space, outside global unicast 2000::/3"
	}
	return ""
}

// nat64IPv4 returns the IPv4 address in the last 32 bits of a 64:ff9b::/96
// address (RFC 6052, 2.2).
func nat64IPv4(ip netip.Addr) []netip.Addr {
	b := ip.As16()
	return []netip.Addr{netip.AddrFrom4([4]byte(b[12:16]))}
}

// sixToFourIPv4 returns the IPv4 address in bits 16 to 48 of a 2002::/16
// address (RFC 3056, 2).
func sixToFourIPv4(ip netip.Addr) []netip.Addr {
	b := ip.As16()
	return []netip.Addr{netip.AddrFrom4([4]byte(b[2:6]))}
}

// teredoIPv4 returns the two IPv4 addresses a 2001::/32 address carries
// (RFC 4380, 4): the Teredo server's in bits 32 to 64, and the client's,
// every bit inverted, in the last 32 bits.
func teredoIPv4(ip netip.Addr) []netip.Addr {
	b := ip.As16()
	var client [4]byte
	binary.BigEndian.PutUint32(client[:], ^binary.BigEndian.Uint32(b[12:16]))
	return []netip.Addr{netip.AddrFrom4(client), netip.AddrFrom4([4]byte(b[4:8]))}
}
