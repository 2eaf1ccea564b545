package ioc

// Type is a kind of indicator.
type Type int

// The indicator types, in the order stoQ's iocextract lists them.
const (
	MD5 Type = iota
	SHA1
	SHA256
	SHA512
	IPv4
	IPv6
	MACAddress
	Email
	Domain
	URL
	numTypes
)

// typeNames are the result keys, stoQ's.
var typeNames = [numTypes]string{
	MD5: "md5", SHA1: "sha1", SHA256: "sha256", SHA512: "sha512",
	IPv4: "ipv4", IPv6: "ipv6", MACAddress: "mac_address",
	Email: "email", Domain: "domain", URL: "url",
}

// String is the type's result key ("md5", "mac_address", …).
func (t Type) String() string {
	if t < 0 || t >= numTypes {
		return "unknown"
	}
	return typeNames[t]
}

// ParseType returns the type whose result key is name.
func ParseType(name string) (Type, bool) {
	for t, n := range typeNames {
		if n == name {
			return Type(t), true
		}
	}
	return 0, false
}

// Types lists every indicator type, in stoQ's order.
func Types() []Type {
	out := make([]Type, numTypes)
	for i := range out {
		out[i] = Type(i)
	}
	return out
}
