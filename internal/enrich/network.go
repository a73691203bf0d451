package enrich

import "net/netip"

// Network classes of a client address. Only "public" addresses are looked
// up in a geo database: the others belong to no country, and saying so is
// better than a guess.
const (
	NetPublic        = "public"
	NetPrivate       = "private"       // RFC 1918, fc00::/7
	NetShared        = "shared"        // 100.64.0.0/10, carrier-grade NAT
	NetLoopback      = "loopback"      // 127.0.0.0/8, ::1
	NetLinkLocal     = "link-local"    // 169.254.0.0/16, fe80::/10
	NetMulticast     = "multicast"     // 224.0.0.0/4, ff00::/8
	NetDocumentation = "documentation" // RFC 5737, RFC 3849, RFC 9637
	NetReserved      = "reserved"      // the rest of the special-purpose registries
	NetUnspecified   = "unspecified"   // 0.0.0.0, ::
	NetInvalid       = "invalid"       // not an IP address
)

var (
	documentation = []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("3fff::/20"),
	}
	shared   = netip.MustParsePrefix("100.64.0.0/10")
	reserved = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("192.0.0.0/24"),
		netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("240.0.0.0/4"),
		netip.MustParsePrefix("100::/64"),
		netip.MustParsePrefix("2001::/23"),
		netip.MustParsePrefix("64:ff9b:1::/48"),
	}
)

// Network says which class ip belongs to; an invalid ip is NetInvalid.
func Network(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return NetInvalid
	case ip.IsUnspecified():
		return NetUnspecified
	case ip.IsLoopback():
		return NetLoopback
	case ip.IsPrivate():
		return NetPrivate
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return NetLinkLocal
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return NetMulticast
	case shared.Contains(ip):
		return NetShared
	case in(documentation, ip):
		return NetDocumentation
	case in(reserved, ip), ip.Is4() && ip.As4() == [4]byte{255, 255, 255, 255}:
		return NetReserved
	}
	return NetPublic
}

func in(list []netip.Prefix, ip netip.Addr) bool {
	for _, p := range list {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
