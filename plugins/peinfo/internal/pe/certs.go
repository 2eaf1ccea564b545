package pe

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Signature is one WIN_CERTIFICATE entry of the certificate table that
// holds a PKCS#7 SignedData (an Authenticode signature).
type Signature struct {
	Blob      []byte // the PKCS#7 SignedData, as stoQ extracts it
	Revision  uint16
	CertType  uint16
	EntrySize uint32 // the certificate table's size (the data directory's)
	CertSize  uint32 // the WIN_CERTIFICATE's dwLength
}

// Signatures walks the certificate table (the security data directory,
// whose address is a file offset) as stoQ does: entries of revision 1.0 or
// 2.0 up to the first one that is empty or runs past the table, keeping
// the revision 2.0 PKCS#7 ones. Entries are 8-byte aligned, as the PE
// specification says (stoQ did not align them, which only changes where a
// second entry is looked for).
func (f *File) Signatures() []Signature {
	dir, ok := f.Directory(DirSecurity)
	if !ok || (dir.VirtualAddress == 0 && dir.Size == 0) {
		return nil
	}
	var sigs []Signature
	at, end := int64(dir.VirtualAddress), int64(dir.VirtualAddress)+int64(dir.Size)
	for at+8 <= end && at+8 <= int64(len(f.data)) && f.step() {
		length := int64(le.Uint32(f.data[at:]))
		revision, typ := le.Uint16(f.data[at+4:]), le.Uint16(f.data[at+6:])
		if length == 0 || at+length > end || (revision != 0x100 && revision != 0x200) {
			break
		}
		if revision == 0x200 && typ == 2 && length > 8 {
			sigs = append(sigs, Signature{
				Blob:      pySlice(f.data, at+8, at+length),
				Revision:  revision,
				CertType:  typ,
				EntrySize: dir.Size,
				CertSize:  uint32(length),
			})
		}
		at += (length + 7) &^ 7
	}
	return sigs
}

// Certificate is one X.509 certificate of an Authenticode signature.
type Certificate struct {
	Subject         string // RFC 4514, as Go's pkix.RDNSequence prints it
	Issuer          string
	SerialNumber    *big.Int
	NotBefore       time.Time
	NotAfter        time.Time
	DigestAlgorithm string // of the signature carrying it: md5, sha1, sha256...
}

var (
	oidSignedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidNestedSignature = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 4, 1}
	digestNames        = map[string]string{
		"1.2.840.113549.2.5":     "md5",
		"1.3.14.3.2.26":          "sha1",
		"2.16.840.1.101.3.4.2.1": "sha256",
		"2.16.840.1.101.3.4.2.2": "sha384",
		"2.16.840.1.101.3.4.2.3": "sha512",
		"2.16.840.1.101.3.4.2.4": "sha224",
	}
)

// ParseSignature reads the certificates of a PKCS#7 SignedData blob and of
// the signatures nested in its signer's unsigned attributes (dual-signed
// files carry a SHA-256 signature nested in a SHA-1 one). Certificates are
// read field by field with encoding/asn1, so one that Go's crypto/x509
// would refuse (a negative serial number, an odd extension) is still
// reported. It returns what it read before an error.
func ParseSignature(blob []byte) ([]Certificate, error) {
	var certs []Certificate
	err := parseSignedData(blob, 0, &certs)
	return certs, err
}

func parseSignedData(blob []byte, depth int, certs *[]Certificate) error {
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(blob, &ci); err != nil {
		return fmt.Errorf("signature is not a DER PKCS#7 ContentInfo: %w", err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return fmt.Errorf("signature content type %v is not SignedData", ci.ContentType)
	}
	elems, err := sequenceElements(ci.Content.Bytes)
	if err != nil || len(elems) != 1 {
		return errors.New("signature has no SignedData sequence")
	}
	fields, err := sequenceElements(elems[0].Bytes)
	if err != nil || len(fields) < 4 {
		return errors.New("signature's SignedData is malformed")
	}
	// version, digestAlgorithms, encapContentInfo, [0] certificates,
	// [1] crls, signerInfos.
	digest := ""
	if algs, err := sequenceElements(fields[1].Bytes); err == nil && len(algs) > 0 {
		digest = algorithmName(algs[0])
	}
	signers := fields[len(fields)-1]
	var nested [][]byte
	if infos, err := sequenceElements(signers.Bytes); err == nil && len(infos) > 0 {
		if name, more := signerInfo(infos[0]); name != "" {
			digest, nested = name, more
		}
	}
	for _, field := range fields[3 : len(fields)-1] {
		if field.Class != asn1.ClassContextSpecific || field.Tag != 0 {
			continue
		}
		members, err := sequenceElements(field.Bytes)
		if err != nil {
			return fmt.Errorf("signature's certificate set is malformed: %w", err)
		}
		for _, m := range members {
			if m.Class != asn1.ClassUniversal || m.Tag != asn1.TagSequence {
				continue // an attribute certificate or other choice
			}
			if len(*certs) == maxCertificates {
				return fmt.Errorf("more than %d certificates: the rest are not read", maxCertificates)
			}
			cert, err := parseCertificate(m.FullBytes)
			if err != nil {
				return err
			}
			cert.DigestAlgorithm = digest
			*certs = append(*certs, cert)
		}
	}
	for _, blob := range nested {
		if depth+1 >= maxNestedSignatures {
			return fmt.Errorf("signatures nested more than %d deep: the rest are not read", maxNestedSignatures)
		}
		if err := parseSignedData(blob, depth+1, certs); err != nil {
			return fmt.Errorf("nested signature: %w", err)
		}
	}
	return nil
}

// signerInfo returns a SignerInfo's digest algorithm and the ContentInfos
// of the signatures nested in its unsigned attributes.
func signerInfo(info asn1.RawValue) (string, [][]byte) {
	fields, err := sequenceElements(info.Bytes)
	if err != nil || len(fields) < 3 {
		return "", nil
	}
	digest := algorithmName(fields[2])
	var nested [][]byte
	last := fields[len(fields)-1]
	if last.Class != asn1.ClassContextSpecific || last.Tag != 1 {
		return digest, nil
	}
	attrs, err := sequenceElements(last.Bytes)
	if err != nil {
		return digest, nil
	}
	for _, attr := range attrs {
		var a struct {
			Type   asn1.ObjectIdentifier
			Values asn1.RawValue `asn1:"set"`
		}
		if _, err := asn1.Unmarshal(attr.FullBytes, &a); err != nil || !a.Type.Equal(oidNestedSignature) {
			continue
		}
		values, err := sequenceElements(a.Values.Bytes)
		if err != nil {
			continue
		}
		for _, v := range values {
			nested = append(nested, v.FullBytes)
		}
	}
	return digest, nested
}

// algorithmName names an AlgorithmIdentifier's digest, or gives its OID.
func algorithmName(alg asn1.RawValue) string {
	var id struct {
		Algorithm asn1.ObjectIdentifier
		Params    asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(alg.FullBytes, &id); err != nil {
		return ""
	}
	if name, ok := digestNames[id.Algorithm.String()]; ok {
		return name
	}
	return id.Algorithm.String()
}

// parseCertificate reads a certificate's serial number, issuer, validity
// and subject from its TBSCertificate.
func parseCertificate(der []byte) (Certificate, error) {
	outer, err := sequenceElements(contentOf(der))
	if err != nil || len(outer) < 1 {
		return Certificate{}, errors.New("a certificate is malformed")
	}
	tbs, err := sequenceElements(outer[0].Bytes)
	if err != nil {
		return Certificate{}, errors.New("a certificate's TBSCertificate is malformed")
	}
	if len(tbs) > 0 && tbs[0].Class == asn1.ClassContextSpecific && tbs[0].Tag == 0 {
		tbs = tbs[1:] // version
	}
	if len(tbs) < 5 {
		return Certificate{}, errors.New("a certificate's TBSCertificate is too short")
	}
	var c Certificate
	c.SerialNumber = new(big.Int)
	if _, err := asn1.Unmarshal(tbs[0].FullBytes, &c.SerialNumber); err != nil {
		return Certificate{}, fmt.Errorf("a certificate's serial number: %w", err)
	}
	var issuer, subject pkix.RDNSequence
	if _, err := asn1.Unmarshal(tbs[2].FullBytes, &issuer); err != nil {
		return Certificate{}, fmt.Errorf("a certificate's issuer: %w", err)
	}
	var validity struct{ NotBefore, NotAfter time.Time }
	if _, err := asn1.Unmarshal(tbs[3].FullBytes, &validity); err != nil {
		return Certificate{}, fmt.Errorf("a certificate's validity: %w", err)
	}
	if _, err := asn1.Unmarshal(tbs[4].FullBytes, &subject); err != nil {
		return Certificate{}, fmt.Errorf("a certificate's subject: %w", err)
	}
	c.Issuer, c.Subject = issuer.String(), subject.String()
	c.NotBefore, c.NotAfter = validity.NotBefore.UTC(), validity.NotAfter.UTC()
	return c, nil
}

// contentOf is the content of the DER element der (nil when malformed).
func contentOf(der []byte) []byte {
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(der, &rv); err != nil {
		return nil
	}
	return rv.Bytes
}

// sequenceElements splits the content of a SEQUENCE or SET into its
// elements.
func sequenceElements(content []byte) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(content) > 0 {
		var rv asn1.RawValue
		rest, err := asn1.Unmarshal(content, &rv)
		if err != nil {
			return out, err
		}
		out = append(out, rv)
		content = rest
	}
	return out, nil
}
