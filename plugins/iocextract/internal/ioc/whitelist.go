package ioc

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// Whitelist holds indicators that are never reported, in the format of
// stoQ's iocextract whitelist files: one "type:pattern" per line; lines
// starting with '#' and lines shorter than three characters are skipped.
//
//   - ipv4, ipv6: an address or a CIDR network; an address in it is not
//     reported, nor a URL whose host it is.
//   - domain: a name; with a leading dot (".google.com"), the name and
//     every name under it. A URL whose host matches is not reported either.
//   - url: as domain, for the hosts of URLs only.
//   - md5, sha1, sha256, sha512, email, mac_address: exact values, in any
//     case (a MAC address with ':' or '-').
//
// The zero value is empty; Add loads files into it. Lookups are safe for
// concurrent use once loading is done.
type Whitelist struct {
	exact    [numTypes]map[string]struct{} // hashes, email, mac_address, and names of domain and url
	suffixes [numTypes]map[string]struct{} // ".name" patterns of domain and url
	networks [numTypes][]netip.Prefix      // ipv4 and ipv6
}

// Add loads the patterns of one whitelist file; source names it in the
// warnings it returns, one per line that is skipped (no "type:" prefix, an
// unknown type, a value that is not of its type), each naming the line.
// stoQ skipped such lines with a warning too.
func (w *Whitelist) Add(data []byte, source string) (warnings []string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || len(strings.TrimSpace(line)) < 2 {
			continue
		}
		if err := w.addLine(line); err != nil {
			warnings = append(warnings, fmt.Sprintf("%s:%d: %v, line skipped", source, n, err))
		}
	}
	if err := sc.Err(); err != nil {
		warnings = append(warnings, fmt.Sprintf("%s: %v, rest of the file skipped", source, err))
	}
	return warnings
}

func (w *Whitelist) addLine(line string) error {
	name, pattern, ok := strings.Cut(line, ":")
	if !ok {
		return fmt.Errorf("%q is not type:pattern", line)
	}
	t, ok := ParseType(strings.TrimSpace(name))
	if !ok {
		return fmt.Errorf("unknown indicator type %q", name)
	}
	pattern = strings.TrimSpace(pattern)
	if pattern == "" {
		return fmt.Errorf("no pattern after %q", name+":")
	}
	switch t {
	case IPv4, IPv6:
		prefix, err := parseNetwork(pattern, t)
		if err != nil {
			return err
		}
		w.networks[t] = append(w.networks[t], prefix)
	case Domain, URL:
		lower := strings.ToLower(pattern)
		if strings.HasPrefix(lower, ".") {
			addTo(&w.suffixes[t], lower)
		} else {
			addTo(&w.exact[t], lower)
		}
	case MACAddress:
		mac, ok := normalMAC(pattern)
		if !ok {
			return fmt.Errorf("%q is not a MAC address", pattern)
		}
		addTo(&w.exact[t], mac)
	default:
		addTo(&w.exact[t], strings.ToLower(pattern))
	}
	return nil
}

func addTo(m *map[string]struct{}, v string) {
	if *m == nil {
		*m = map[string]struct{}{}
	}
	(*m)[v] = struct{}{}
}

// parseNetwork reads an ipv4 or ipv6 pattern: an address (a network of
// one) or a CIDR network. IPv4 leading zeros are read as decimal, as the
// extractor reads them.
func parseNetwork(pattern string, t Type) (netip.Prefix, error) {
	addrText, bits, hasBits := strings.Cut(pattern, "/")
	if t == IPv4 {
		if norm := ipv4Of([]byte(addrText)); norm != "" {
			addrText = norm
		}
	}
	addr, err := netip.ParseAddr(addrText)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an %s address or network", pattern, t)
	}
	if addr.Is4() != (t == IPv4) {
		return netip.Prefix{}, fmt.Errorf("%q is not an %s address or network", pattern, t)
	}
	if !hasBits {
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	prefix, err := netip.ParsePrefix(addr.String() + "/" + bits)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an %s address or network: %v", pattern, t, err)
	}
	return prefix.Masked(), nil
}

// normalMAC returns a MAC address lowercase with ':' separators.
func normalMAC(s string) (string, bool) {
	if len(s) != 17 {
		return "", false
	}
	out := []byte(strings.ToLower(s))
	for i := range out {
		if i%3 == 2 {
			if out[i] != ':' && out[i] != '-' {
				return "", false
			}
			out[i] = ':'
		} else if !isHex(out[i]) {
			return "", false
		}
	}
	return string(out), true
}

// Allows reports whether the normalized indicator v of type t may be
// reported. A nil Whitelist allows everything.
func (w *Whitelist) Allows(t Type, v string) bool {
	if w == nil {
		return true
	}
	switch t {
	case IPv4, IPv6:
		return !w.inNetworks(v)
	case Domain:
		return !w.nameMatches(Domain, v)
	case URL:
		host := urlHost(v)
		if strings.HasPrefix(host, "[") || ipv4Of([]byte(host)) != "" {
			return !w.inNetworks(strings.Trim(host, "[]"))
		}
		return !w.nameMatches(Domain, host) && !w.nameMatches(URL, host)
	case Email:
		_, ok := w.exact[t][strings.ToLower(v)]
		return !ok
	default:
		_, ok := w.exact[t][v]
		return !ok
	}
}

// inNetworks reports whether address v lies in a whitelisted network.
func (w *Whitelist) inNetworks(v string) bool {
	addr, err := netip.ParseAddr(v)
	if err != nil {
		return false
	}
	t := IPv6
	if addr.Is4() {
		t = IPv4
	}
	for _, p := range w.networks[t] {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// nameMatches reports whether name is one of t's whitelisted names or lies
// under one of its ".name" patterns (".google.com" matches google.com and
// www.google.com). It looks up each of the name's suffixes, so its cost
// does not depend on the size of the whitelist.
func (w *Whitelist) nameMatches(t Type, name string) bool {
	if _, ok := w.exact[t][name]; ok {
		return true
	}
	if len(w.suffixes[t]) == 0 {
		return false
	}
	dotted := "." + name
	for i := 0; i < len(dotted); i++ {
		if dotted[i] != '.' {
			continue
		}
		if _, ok := w.suffixes[t][dotted[i:]]; ok {
			return true
		}
	}
	return false
}

// urlHost returns the host of a URL as the extractor writes it
// (scheme://[userinfo@]host[:port][path]): a name, an IPv4 address, or an
// IPv6 address in brackets.
func urlHost(u string) string {
	_, rest, _ := strings.Cut(u, "://")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i >= 0 {
			return rest[:i+1]
		}
		return rest
	}
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
