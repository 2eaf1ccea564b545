package iocextract

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"golang.org/x/net/idna"
)

var updateTLDs = flag.Bool("update-tlds", false, "rewrite tlds-alpha-by-domain.txt from Debian's publicsuffix package")

// debianPSL is the Public Suffix List of Debian's publicsuffix package.
const debianPSL = "/usr/share/publicsuffix/public_suffix_list.dat"

// icannTLDs returns the top-level domains of the ICANN section of a Public
// Suffix List: the last label of every rule, IDN labels in their xn-- form,
// uppercase as IANA writes them, sorted.
func icannTLDs(psl []byte) ([]string, error) {
	set := map[string]bool{}
	inICANN := false
	sc := bufio.NewScanner(bytes.NewReader(psl))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.Contains(line, "===BEGIN ICANN DOMAINS==="):
			inICANN = true
		case strings.Contains(line, "===END ICANN DOMAINS==="):
			inICANN = false
		case !inICANN || line == "" || strings.HasPrefix(line, "//"):
		default:
			rule := strings.TrimPrefix(strings.Fields(line)[0], "!")
			label := rule[strings.LastIndexByte(rule, '.')+1:]
			ascii, err := idna.ToASCII(label)
			if err != nil {
				return nil, fmt.Errorf("rule %q: %w", rule, err)
			}
			set[strings.ToUpper(ascii)] = true
		}
	}
	var out []string
	for tld := range set {
		out = append(out, tld)
	}
	slices.Sort(out)
	return out, sc.Err()
}

// tldFile renders the shipped list: a header naming its source, then one
// TLD per line, as IANA's tlds-alpha-by-domain.txt.
func tldFile(tlds []string, debianVersion string) []byte {
	var b bytes.Buffer
	date := debianVersion
	if len(date) >= 8 {
		date = date[:4] + "-" + date[4:6] + "-" + date[6:8]
	}
	fmt.Fprintf(&b, "# %d top-level domains: the ICANN section of the Public Suffix List of %s, from Debian's publicsuffix %s, in the format of IANA's tlds-alpha-by-domain.txt\n",
		len(tlds), date, debianVersion)
	for _, tld := range tlds {
		b.WriteString(tld + "\n")
	}
	return b.Bytes()
}

// The shipped TLD list is derived from Debian's publicsuffix package by
// this test (go test -run TestShippedTLDs -update-tlds rewrites it). When
// the installed package is the version the list names, the list must be
// exactly what the package gives; another version only asks for a refresh.
func TestShippedTLDsAreDebiansPublicSuffixList(t *testing.T) {
	psl, err := os.ReadFile(debianPSL)
	if err != nil {
		stoqtest.Missing(t, "Debian's publicsuffix package is not installed (%v): cannot check where the shipped TLD list comes from", err)
	}
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "publicsuffix").Output()
	if err != nil {
		stoqtest.Missing(t, "dpkg-query publicsuffix: %v", err)
	}
	version := strings.TrimSpace(string(out))
	tlds, err := icannTLDs(psl)
	if err != nil {
		t.Fatal(err)
	}
	want := tldFile(tlds, version)
	if *updateTLDs {
		if err := os.WriteFile(defaultTLDFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %d TLDs from publicsuffix %s", defaultTLDFile, len(tlds), version)
		return
	}
	if !bytes.Contains(shippedTLDs[:bytes.IndexByte(shippedTLDs, '\n')], []byte("publicsuffix "+version+",")) {
		t.Skipf("Debian's publicsuffix is %s, newer or older than the shipped list's: refresh it with go test -run TestShippedTLDs -update-tlds", version)
	}
	if !bytes.Equal(shippedTLDs, want) {
		t.Errorf("%s differs from the TLDs of publicsuffix %s: rewrite it with go test -run TestShippedTLDs -update-tlds", defaultTLDFile, version)
	}
}
