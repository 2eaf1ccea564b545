package ioc

import "regexp"

// The candidate patterns compiled, for the tests that check the
// hand-written finders against them (FuzzTwins) and for benchmarks.
var (
	hashRe   = regexp.MustCompile(hashPattern)
	ipv4Re   = regexp.MustCompile(ipv4Pattern)
	ipv6Re   = regexp.MustCompile(ipv6Pattern)
	macRe    = regexp.MustCompile(macPattern)
	emailRe  = regexp.MustCompile(emailPattern)
	domainRe = regexp.MustCompile(domainPattern)
	schemeRe = regexp.MustCompile(schemePattern)
)
