package peinfo

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// scan runs peinfo (configured with opts) on content and returns its
// response and its results as a connector sees them (nil without results).
// Every extracted payload must be a capped subslice of content.
func scan(t testing.TB, opts map[string]string, content []byte) (*core.WorkerResponse, map[string]any) {
	t.Helper()
	w := stoqtest.New[*Plugin](t, "peinfo", opts)
	orig := md5.Sum(content)
	resp := stoqtest.Scan(t, w, content)
	if md5.Sum(content) != orig {
		t.Fatal("the payload was modified")
	}
	for i, ex := range resp.Extracted {
		if !isSubslice(ex.Content, content) || cap(ex.Content) != len(ex.Content) {
			t.Errorf("extracted %d is not a capped subslice of the payload", i)
		}
	}
	if resp.Results == nil {
		return resp, nil
	}
	return resp, stoqtest.JSON(t, resp.Results).(map[string]any)
}

func isSubslice(sub, of []byte) bool {
	if len(sub) == 0 || len(of) == 0 {
		return len(sub) == 0
	}
	start, end := uintptr(unsafe.Pointer(&of[0])), uintptr(unsafe.Pointer(&of[len(of)-1]))
	first, last := uintptr(unsafe.Pointer(&sub[0])), uintptr(unsafe.Pointer(&sub[len(sub)-1]))
	return first >= start && last <= end
}

// compared are the result keys compared with pefile's, in the order the
// issue lists them.
var compared = []string{
	"imphash", "compile_time_epoch", "compile_time", "image_base", "entrypoint", "machine_type",
	"is_exe", "is_dll", "is_driver", "is_packed", "imports", "exports", "sections", "resources",
	"version_info", "rich_header", "tls_callbacks", "debug_info",
}

// checkLikePefile compares peinfo's results with pefile's, key by key.
func checkLikePefile(t *testing.T, name string, ours, ref map[string]any) {
	t.Helper()
	if msg, ok := ref["error"]; ok {
		t.Fatalf("%s: pefile does not load it: %v", name, msg)
	}
	for _, key := range compared {
		got, want := ours[key], ref[key]
		if key == "sections" && !exactEntropy {
			got, want = roundEntropies(got), roundEntropies(want)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s differs from pefile's\n  peinfo: %s\n  pefile: %s", name, key, compact(got), compact(want))
		}
	}
	if want, ok := ref["certificates"].([]any); ok {
		got := []any{}
		for _, c := range ours["certificates"].([]any) {
			c := maps(c)
			delete(c, "digest_algorithm")
			got = append(got, c)
		}
		if len(got) < len(want) || !reflect.DeepEqual(got[:len(want)], want) {
			t.Errorf("%s: certificates differ from python3-cryptography's\n  peinfo: %s\n  python: %s", name, compact(got), compact(want))
		}
	}
}

func maps(v any) map[string]any {
	out := map[string]any{}
	for k, x := range v.(map[string]any) {
		out[k] = x
	}
	return out
}

// roundEntropies rounds entropies to 12 digits, for builds without cgo
// (Go's math.Log and the C library's log differ in the last bit).
func roundEntropies(v any) any {
	list, _ := v.([]any)
	var out []any
	for _, s := range list {
		m := maps(s)
		if e, ok := m["entropy"].(float64); ok {
			m["entropy"] = math.Round(e*1e12) / 1e12
		}
		out = append(out, m)
	}
	return out
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// checkClean asserts a real executable was read without a problem.
func checkClean(t *testing.T, name string, resp *core.WorkerResponse, ours map[string]any) {
	t.Helper()
	if len(resp.Errors) != 0 {
		t.Errorf("%s: errors %v", name, resp.Errors)
	}
	if ours["is_valid"] != true || ours["is_suspicious"] != false {
		t.Errorf("%s: is_valid %v, is_suspicious %v; want true, false", name, ours["is_valid"], ours["is_suspicious"])
	}
}

// Real executables: the mingw ones of Go's debug/pe test data and the
// benchmark corpus's Go-built hello-worlds (together, the corpus's PEs),
// one with symbols, mingw-built programs and DLLs: every key equals
// pefile's.
func TestRealExecutablesMatchPefile(t *testing.T) {
	pes := append(debugPEExes(t), goBuiltExes(t)...)
	pes = append(pes, mingwBuilt(t)...)
	var paths []string
	for _, p := range pes {
		paths = append(paths, p.path)
	}
	refs := reference(t, paths...)
	for i, p := range pes {
		t.Run(p.name, func(t *testing.T) {
			resp, ours := scan(t, nil, p.data)
			checkClean(t, p.name, resp, ours)
			checkLikePefile(t, p.name, ours, refs[i])
		})
	}
}

// What the mingw-built program and DLLs exercise, checked directly (so that
// a change to the reference script cannot hide it).
func TestMingwFacts(t *testing.T) {
	built := mingwBuilt(t)
	_, app := scan(t, nil, built[0].data)
	imports := app["imports"].(map[string]any)
	if got := fmt.Sprint(imports["ws2_32.dll"]); got != "[WSAStartup]" {
		t.Errorf("ws2_32.dll imports %s: ordinal 115 should be named by ordlookup", got)
	}
	if got := fmt.Sprint(imports["peinfo_other.dll"]); got != "[ord7]" {
		t.Errorf("peinfo_other.dll imports %s, want [ord7]", got)
	}
	if n := len(app["tls_callbacks"].([]any)); n < 2 {
		t.Errorf("%d TLS callbacks, want at least the program's two", n)
	}
	version := app["version_info"].(map[string]any)
	for key, want := range map[string]string{
		"CompanyName":     "stoq test corp",
		"FileVersion":     "1.2.3.4",
		"LegalCopyright":  "\u00a9 stoq developers",
		"FileDescription": "programme de test de peinfo", // the second table's, as in stoQ
		"Comments":        "deuxi\u00e8me table",
	} {
		if version[key] != want {
			t.Errorf("version_info[%s] = %v, want %q", key, version[key], want)
		}
	}
	debug := app["debug_info"].([]any)
	if len(debug) == 0 || maps(debug[0])["DebugPDB"] != "app.pdb" || len(fmt.Sprint(maps(debug[0])["DebugGUID"])) != 36 {
		t.Errorf("debug_info %s, want a CodeView entry naming app.pdb with its GUID", compact(debug))
	}
	var types []string
	for _, r := range app["resources"].([]any) {
		types = append(types, maps(r)["type"].(string))
	}
	for _, want := range []string{"RT_VERSION", "RT_STRING", "RT_RCDATA", "RT_MANIFEST", "unknown"} {
		if !slices.Contains(types, want) {
			t.Errorf("resource types %v lack %s", types, want)
		}
	}
	_, driver := scan(t, nil, built[3].data)
	if driver["is_driver"] != true || driver["is_exe"] != false || driver["is_dll"] != false {
		t.Errorf("driver.sys: is_driver %v, is_exe %v, is_dll %v", driver["is_driver"], driver["is_exe"], driver["is_dll"])
	}
	for _, lib := range built[1:3] {
		_, res := scan(t, nil, lib.data)
		if got := fmt.Sprint(res["exports"]); got != "[peinfo_add peinfo_data peinfo_sub peinfo_tick]" {
			t.Errorf("%s: exports %s (named ones only, forwarder included, NONAME left out)", lib.name, got)
		}
		if res["is_dll"] != true || res["is_exe"] != false {
			t.Errorf("%s: is_dll %v, is_exe %v", lib.name, res["is_dll"], res["is_exe"])
		}
	}
}

// Resources are extracted with their entry as extra_data, and their
// content is what pefile's get_data gives.
func TestResourcesExtracted(t *testing.T) {
	app := mingwBuilt(t)[0]
	resp, ours := scan(t, nil, app.data)
	resources := ours["resources"].([]any)
	if len(resp.Extracted) != len(resources) || len(resources) == 0 {
		t.Fatalf("%d extracted, %d resources", len(resp.Extracted), len(resources))
	}
	for i, ex := range resp.Extracted {
		entry := maps(resources[i])
		extra := stoqtest.JSON(t, ex.PayloadMeta.ExtraData).(map[string]any)
		if extra["filename"] != entry["name"] {
			t.Errorf("resource %d: filename %v, want its name %v", i, extra["filename"], entry["name"])
		}
		delete(extra, "filename")
		if !reflect.DeepEqual(extra, entry) {
			t.Errorf("resource %d: extra_data %s, want its entry %s", i, compact(extra), compact(entry))
		}
		off := int(entry["offset"].(float64))
		if !bytes.Equal(ex.Content, app.data[off:off+int(entry["size"].(float64))]) {
			t.Errorf("resource %d: content is not the bytes at its offset", i)
		}
	}
	if string(resp.Extracted[len(resp.Extracted)-1].Content[:5]) != "<?xml" {
		t.Errorf("the last resource should be the manifest")
	}

	resp, _ = scan(t, map[string]string{"extract_resources": "false"}, app.data)
	if len(resp.Extracted) != 0 {
		t.Errorf("extract_resources=false: %d extracted", len(resp.Extracted))
	}
}

// Signed executables: one SHA-256 signature, and a SHA-256 signature with a
// nested SHA-1 one. Certificates equal python3-cryptography's reading of
// the outer signature; the nested one's follow, and every digest algorithm
// is the one osslsigncode used. The signature is extracted with stoQ's
// extra_data.
func TestSignedExecutables(t *testing.T) {
	signed, _ := signedBuilt(t)
	refs := reference(t, signed[0].path, signed[1].path)
	for i, p := range signed {
		t.Run(p.name, func(t *testing.T) {
			resp, ours := scan(t, nil, p.data)
			checkClean(t, p.name, resp, ours)
			checkLikePefile(t, p.name, ours, refs[i])
			// A certificate set is a DER SET OF: sorted by encoding, so the
			// leaf is found by subject.
			certs := ours["certificates"].([]any)
			wantDigests := []string{"sha256", "sha256"}
			if i == 1 {
				wantDigests = append(wantDigests, "sha1", "sha1")
			}
			var digests []string
			var leaf map[string]any
			for _, c := range certs {
				c := maps(c)
				digests = append(digests, c["digest_algorithm"].(string))
				if strings.HasPrefix(c["subject"].(string), "CN=stoq peinfo signer") && leaf == nil {
					leaf = c
				}
			}
			if !slices.Equal(digests, wantDigests) {
				t.Errorf("digest algorithms %v, want %v", digests, wantDigests)
			}
			want := map[string]any{
				"subject":          "CN=stoq peinfo signer,OU=peinfo\\, tests,O=stoq test corp,C=US",
				"issuer":           "CN=stoq test root,O=stoq test corp,C=US",
				"serial_number":    "9f1e2d3c4b5a69788796a5b4c3d2e1f0",
				"not_before":       "2026-01-01T00:00:00Z",
				"not_after":        "2036-06-30T23:59:59Z",
				"digest_algorithm": "sha256",
			}
			if !reflect.DeepEqual(leaf, want) {
				t.Errorf("signer's certificate\n  %s\nwant\n  %s", compact(leaf), compact(want))
			}

			var sigs []core.ExtractedPayload
			for _, ex := range resp.Extracted {
				if _, ok := ex.PayloadMeta.ExtraData["cert_size"]; ok {
					sigs = append(sigs, ex)
				}
			}
			if len(sigs) != 1 {
				t.Fatalf("%d signatures extracted, want 1", len(sigs))
			}
			extra := stoqtest.JSON(t, sigs[0].PayloadMeta.ExtraData).(map[string]any)
			sum := md5.Sum(sigs[0].Content)
			if extra["md5"] != hex.EncodeToString(sum[:]) || extra["filename"] != extra["sha256"] ||
				extra["revision"] != float64(0x200) || extra["cert_type"] != float64(2) {
				t.Errorf("signature extra_data %s", compact(extra))
			}
			dirAt := peOptionalHeader(p.data) + 112 + 4*8 // PE32+ security directory
			at := binary.LittleEndian.Uint32(p.data[dirAt:])
			length := binary.LittleEndian.Uint32(p.data[at:])
			if !bytes.Equal(sigs[0].Content, p.data[at+8:at+length]) || extra["cert_size"] != float64(length) {
				t.Errorf("extracted signature is not the WIN_CERTIFICATE's content")
			}
		})
	}
	resp, _ := scan(t, map[string]string{"extract_certificates": "false", "extract_resources": "false"}, signed[0].data)
	if len(resp.Extracted) != 0 {
		t.Errorf("with extraction off: %d extracted", len(resp.Extracted))
	}
}

func peOptionalHeader(b []byte) int {
	return int(binary.LittleEndian.Uint32(b[0x3c:])) + 24
}

// Bytes that start like an executable but are not a PE give one Error and
// no results, as stoQ's plugin failed on them; each of pefile's reasons is
// named.
func TestNotAPE(t *testing.T) {
	exe := debugPEExes(t)[1].data
	withSig := func(sig string) []byte {
		b := bytes.Clone(exe)
		copy(b[binary.LittleEndian.Uint32(b[0x3c:]):], sig)
		return b
	}
	mzOnly := append([]byte("MZ"), make([]byte, 62)...)
	mzOnly[0x3c] = 64 // NT headers right after the DOS header, at the end
	farLfanew := bytes.Clone(exe[:0x200])
	binary.LittleEndian.PutUint32(farLfanew[0x3c:], 0x10000)
	cases := []struct {
		name    string
		content []byte
		mention string
	}{
		{"MZ alone", []byte("MZ"), "shorter than a DOS header"},
		{"ZM", append([]byte("ZM"), make([]byte, 100)...), "a ZM executable"},
		{"MZ only", mzOnly, "no NT headers"},
		{"far e_lfanew", farLfanew, "e_lfanew points past the end"},
		{"NE", withSig("NE"), "an NE file"},
		{"not PE", withSig("PX\x00\x00"), "invalid NT headers signature"},
		{"no optional header", exe[:binary.LittleEndian.Uint32(exe[0x3c:])+24+40], "no optional header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, ours := scan(t, nil, c.content)
			if ours != nil || len(resp.Extracted) != 0 {
				t.Errorf("results %v, %d extracted; want none", ours, len(resp.Extracted))
			}
			if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "not a PE file: "+c.mention) {
				t.Errorf("errors %v, want one saying %q", resp.Errors, c.mention)
			}
		})
	}
}

// Payloads that are not executables at all (with -a peinfo, every text,
// image and extracted resource) give neither results nor an Error.
func TestNonExecutablesAreQuiet(t *testing.T) {
	for name, content := range map[string][]byte{
		"empty": nil, "text": []byte(strings.Repeat("hello world\n", 20)), "png": []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
	} {
		resp, ours := scan(t, nil, content)
		if ours != nil || len(resp.Errors) != 0 || len(resp.Extracted) != 0 {
			t.Errorf("%s: results %v, errors %v, %d extracted; want nothing", name, ours, resp.Errors, len(resp.Extracted))
		}
	}
}

func TestBadOptions(t *testing.T) {
	for _, opt := range []string{"extract_resources", "extract_certificates"} {
		_, err := stoqtest.TryNew(t, "peinfo", map[string]string{opt: "sometimes"})
		var oe *core.OptionError
		if !errors.As(err, &oe) || oe.Option != opt {
			t.Errorf("%s=sometimes: error %v, want an OptionError for it", opt, err)
		}
	}
}

// A cancelled scan stops early with an Error, and what was read is kept.
func TestCancelledScan(t *testing.T) {
	exe := debugPEExes(t)[2].data
	w := stoqtest.New[*Plugin](t, "peinfo", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := stoqtest.Payload(exe, nil)
	resp, err := w.Scan(ctx, p, stoqtest.Request(p))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range resp.Errors {
		found = found || strings.Contains(e.Message, "context canceled")
	}
	if !found || resp.Results == nil || resp.Results.(*Results).IsValid {
		t.Errorf("errors %v, results %v: want a context error, partial results, is_valid false", resp.Errors, resp.Results != nil)
	}
}
