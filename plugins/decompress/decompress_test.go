package decompress

import (
	"bufio"
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// archiveCase is an archive made by a real archiver from the corpus.
type archiveCase struct {
	name   string
	file   string   // the archive's file name
	tools  []string // reference tools it needs
	script string   // run in the corpus folder; $A is the archive's path
	// single names the one corpus file a single-stream archive holds, and
	// member the name it must be extracted under.
	single, member string
	// members maps member names to corpus files when the archive holds
	// only some of them (default: the whole corpus, under its own names).
	members     map[string]string
	format      string
	compression string
	encrypted   bool
	// listing is the reference listing compared with: "7z", "unzip", "tar".
	listing []string
	// packedSizes: compressed_size is per member and equals the listing's.
	packedSizes bool
}

// encryptedMember says whether a member with this content is encrypted: a
// 7z archive stores empty files outside its (encrypted) streams, unless its
// headers are encrypted too.
func (ac archiveCase) encryptedMember(content []byte) bool {
	if ac.format == "7z" && len(content) == 0 && !strings.Contains(ac.script, "-mhe=on") {
		return false
	}
	return ac.encrypted
}

var archiveCases = []archiveCase{
	{name: "zip deflate (Info-ZIP)", file: "a.zip", tools: []string{"zip"}, script: `zip -q -r "$A" *`, format: "zip", listing: []string{"7z", "unzip"}, packedSizes: true},
	{name: "zip stored (Info-ZIP)", file: "a.zip", tools: []string{"zip"}, script: `zip -q -r -0 "$A" *`, format: "zip", listing: []string{"7z", "unzip"}, packedSizes: true},
	{name: "zip bzip2 (Info-ZIP)", file: "a.zip", tools: []string{"zip"}, script: `zip -q -r -Z bzip2 "$A" *`, format: "zip", listing: []string{"7z", "unzip"}, packedSizes: true},
	{name: "zip ZipCrypto (zip -P infected)", file: "a.zip", tools: []string{"zip"}, script: `zip -q -r -P infected "$A" *`, format: "zip", encrypted: true, listing: []string{"7z", "unzip"}, packedSizes: true},
	// Streamed: a data descriptor, so the password check byte is the DOS
	// time's, and the member's recorded mode is the pipe's.
	{name: "zip ZipCrypto streamed (cat | zip -P infected - -)", file: "a.zip", tools: []string{"zip"}, script: `cat docs/random.bin | zip -q -P infected - - > "$A"`,
		members: map[string]string{"-": "docs/random.bin"}, format: "zip", encrypted: true, listing: []string{"7z", "unzip"}, packedSizes: true},
	{name: "zip ZipCrypto (7z)", file: "a.zip", tools: []string{"7z"}, script: `7z a -bd -tzip -pinfected -mem=ZipCrypto "$A" * >/dev/null`, format: "zip", encrypted: true, listing: []string{"7z", "unzip"}, packedSizes: true},
	{name: "zip AES-256 (7z -mem=AES256)", file: "a.zip", tools: []string{"7z"}, script: `7z a -bd -tzip -pinfected -mem=AES256 "$A" * >/dev/null`, format: "zip", encrypted: true, listing: []string{"7z", "unzip"}, packedSizes: true},
	{name: "zip AES-128 (7z -mem=AES128)", file: "a.zip", tools: []string{"7z"}, script: `7z a -bd -tzip -pinfected -mem=AES128 "$A" * >/dev/null`, format: "zip", encrypted: true, listing: []string{"7z"}, packedSizes: true},
	{name: "zip deflate (7z)", file: "a.zip", tools: []string{"7z"}, script: `7z a -bd -tzip "$A" * >/dev/null`, format: "zip", listing: []string{"7z", "unzip"}, packedSizes: true},
	{name: "zip lzma (7z)", file: "a.zip", tools: []string{"7z"}, script: `7z a -bd -tzip -m0=LZMA "$A" * >/dev/null`, format: "zip", listing: []string{"7z"}, packedSizes: true},
	{name: "zip bzip2 (7z)", file: "a.zip", tools: []string{"7z"}, script: `7z a -bd -tzip -m0=BZip2 "$A" * >/dev/null`, format: "zip", listing: []string{"7z"}, packedSizes: true},
	{name: "zip deflate64 (7z, members through the 7z fallback)", file: "a.zip", tools: []string{"7z"}, script: `7z a -bd -tzip -m0=Deflate64 "$A" * >/dev/null`, format: "zip", listing: []string{"7z", "unzip"}, packedSizes: true},
	{name: "zip PPMd (7z, members through the 7z fallback)", file: "a.zip", tools: []string{"7z"}, script: `7z a -bd -tzip -m0=PPMd "$A" * >/dev/null`, format: "zip", listing: []string{"7z"}, packedSizes: true},
	{name: "tar", file: "a.tar", tools: []string{"tar"}, script: `tar -cf "$A" *`, format: "tar", listing: []string{"tar", "7z"}, packedSizes: true},
	{name: "tar pax", file: "a.tar", tools: []string{"tar"}, script: `tar --format=pax -cf "$A" *`, format: "tar", listing: []string{"tar"}, packedSizes: true},
	{name: "tar.gz", file: "a.tgz", tools: []string{"tar", "gzip"}, script: `tar -czf "$A" *`, format: "tar", compression: "gzip", listing: []string{"tar"}},
	{name: "tar.bz2", file: "a.tar.bz2", tools: []string{"tar", "bzip2"}, script: `tar -cjf "$A" *`, format: "tar", compression: "bzip2", listing: []string{"tar"}},
	{name: "tar.xz", file: "a.tar.xz", tools: []string{"tar", "xz"}, script: `tar -cJf "$A" *`, format: "tar", compression: "xz", listing: []string{"tar"}},
	{name: "tar.zst", file: "a.tar.zst", tools: []string{"tar", "zstd"}, script: `tar --zstd -cf "$A" *`, format: "tar", compression: "zstd", listing: []string{"tar"}},
	{name: "7z lzma2", file: "a.7z", tools: []string{"7z"}, script: `7z a -bd "$A" * >/dev/null`, format: "7z", listing: []string{"7z"}},
	{name: "7z ppmd", file: "a.7z", tools: []string{"7z"}, script: `7z a -bd -m0=PPMd "$A" * >/dev/null`, format: "7z", listing: []string{"7z"}},
	{name: "7z bzip2", file: "a.7z", tools: []string{"7z"}, script: `7z a -bd -m0=BZip2 "$A" * >/dev/null`, format: "7z", listing: []string{"7z"}},
	{name: "7z copy", file: "a.7z", tools: []string{"7z"}, script: `7z a -bd -m0=Copy "$A" * >/dev/null`, format: "7z", listing: []string{"7z"}},
	{name: "7z AES-256 (7z -pinfected)", file: "a.7z", tools: []string{"7z"}, script: `7z a -bd -pinfected "$A" * >/dev/null`, format: "7z", encrypted: true, listing: []string{"7z"}},
	{name: "7z AES-256, encrypted headers", file: "a.7z", tools: []string{"7z"}, script: `7z a -bd -pinfected -mhe=on "$A" * >/dev/null`, format: "7z", encrypted: true},
	{name: "gzip with stored name", file: "renamed.gz", tools: []string{"gzip"}, script: `gzip -c docs/report.txt > "$A"`, single: "docs/report.txt", member: "report.txt", format: "gzip"},
	{name: "gzip -n", file: "hello.txt.gz", tools: []string{"gzip"}, script: `gzip -n -c hello.txt > "$A"`, single: "hello.txt", member: "hello.txt", format: "gzip"},
	{name: "bzip2", file: "report.txt.bz2", tools: []string{"bzip2"}, script: `bzip2 -c docs/report.txt > "$A"`, single: "docs/report.txt", member: "report.txt", format: "bzip2"},
	{name: "xz", file: "random.bin.xz", tools: []string{"xz"}, script: `xz -c docs/random.bin > "$A"`, single: "docs/random.bin", member: "random.bin", format: "xz"},
	{name: "xz -9e", file: "r.xz", tools: []string{"xz"}, script: `xz -9e -c docs/report.txt > "$A"`, single: "docs/report.txt", member: "r", format: "xz"},
	{name: "zstd", file: "report.txt.zst", tools: []string{"zstd"}, script: `zstd -q -19 -c docs/report.txt > "$A"`, single: "docs/report.txt", member: "report.txt", format: "zstd"},
	{name: "zstd empty", file: "empty.txt.zst", tools: []string{"zstd"}, script: `zstd -q -c empty.txt > "$A"`, single: "empty.txt", member: "empty.txt", format: "zstd"},
	// gcab takes files, not folders. CAB stores paths with backslashes; 7z
	// lists them with slashes, and the fallback reports what 7z lists.
	{name: "cab (gcab, through the 7z fallback)", file: "a.cab", tools: []string{"gcab", "7z"}, script: `gcab -c -z "$A" hello.txt docs/report.txt docs/random.bin empty.txt`,
		members: sameNames("hello.txt", "docs/report.txt", "docs/random.bin", "empty.txt"), format: "cab", listing: []string{"7z"}},
	// ar keeps base names only.
	{name: "ar (binutils, through the 7z fallback)", file: "a.deb", tools: []string{"ar", "7z"}, script: `ar rc "$A" hello.txt docs/random.bin empty.txt`,
		members: map[string]string{"hello.txt": "hello.txt", "random.bin": "docs/random.bin", "empty.txt": "empty.txt"}, format: "ar", listing: []string{"7z"}},
	{name: "cpio newc (through the 7z fallback)", file: "a.cpio", tools: []string{"cpio", "7z"}, script: `find hello.txt docs | cpio --quiet -o -H newc > "$A"`,
		members: sameNames("hello.txt", "docs/report.txt", "docs/random.bin", "docs/deep/zeros.bin"), format: "cpio", listing: []string{"7z"}},
}

func sameNames(names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = n
	}
	return out
}

// TestArchiversRoundTrip extracts archives made by Debian's archivers from
// the corpus: every member's bytes equal the original's (sha256), the
// extra_data and results are as documented, and the member listing agrees
// with the archivers' own listings.
func TestArchiversRoundTrip(t *testing.T) {
	c := newCorpus(t)
	w := newWorker(t, nil)
	for i, ac := range archiveCases {
		t.Run(ac.name, func(t *testing.T) {
			need(t, ac.tools...)
			dir := filepath.Join(c.dir, "case"+strconv.Itoa(i))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			archive := filepath.Join(dir, ac.file)
			shell(t, c.src, "A="+shellQuote(archive)+"; "+ac.script)
			resp := scanFile(t, w, archive)
			if len(resp.Errors) != 0 {
				t.Fatalf("errors: %v", errorMessages(resp))
			}
			want := map[string][]byte{}
			switch {
			case ac.single != "":
				want[ac.member] = c.files[ac.single]
			case ac.members != nil:
				for name, file := range ac.members {
					want[name] = c.files[file]
				}
			default:
				want = c.files
			}
			got := extractedByName(t, resp)
			checkExtracted(t, ac, want, got)
			results := resp.Results.(*Results)
			if results.ArchiveType != ac.format || results.Compression != ac.compression {
				t.Errorf("archive_type %q compression %q, want %q %q", results.ArchiveType, results.Compression, ac.format, ac.compression)
			}
			if len(results.Members) != len(want) {
				t.Errorf("%d members listed, want %d", len(results.Members), len(want))
			}
			for _, m := range results.Members {
				if m.Encrypted != ac.encryptedMember(want[m.Filename]) {
					t.Errorf("%s: encrypted %v", m.Filename, m.Encrypted)
				}
				if _, ok := want[m.Filename]; !ok {
					t.Errorf("listed %q, not in the archive", m.Filename)
				}
				if m.Size == nil || int(*m.Size) != len(want[m.Filename]) {
					t.Errorf("%s: size %v, want %d", m.Filename, m.Size, len(want[m.Filename]))
				}
			}
			for _, tool := range ac.listing {
				compareListing(t, tool, archive, ac, results.Members)
			}
			// The JSON a connector sees has exactly the documented keys.
			js := stoqtest.JSON(t, resp.Results).(map[string]any)
			if len(js["members"].([]any)) > 0 {
				keys := slices.Sorted(maps.Keys(js["members"].([]any)[0].(map[string]any)))
				if !slices.Equal(keys, []string{"compressed_size", "encrypted", "filename", "modified", "size"}) {
					t.Errorf("member keys %v", keys)
				}
			}
		})
	}
}

func checkExtracted(t *testing.T, ac archiveCase, want map[string][]byte, got map[string]core.ExtractedPayload) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("extracted %d members %v, want %d", len(got), slices.Sorted(maps.Keys(got)), len(want))
	}
	for name, content := range want {
		ex, ok := got[name]
		if !ok {
			t.Errorf("%q not extracted (extracted: %v)", name, slices.Sorted(maps.Keys(got)))
			continue
		}
		if sha(ex.Content) != sha(content) {
			t.Errorf("%q: sha256 %s, the original's is %s (%d bytes, want %d)", name, sha(ex.Content), sha(content), len(ex.Content), len(content))
		}
		ed := ex.PayloadMeta.ExtraData
		if ed["size"] != len(content) || ed["archive_type"] != ac.format || ed["encrypted"] != ac.encryptedMember(content) {
			t.Errorf("%q: extra_data %v", name, ed)
		}
		if pw, has := ed["password"]; ac.encryptedMember(content) != has || has && pw != "infected" {
			t.Errorf("%q: password in extra_data %v (encrypted archive: %v)", name, ed["password"], ac.encrypted)
		}
		if !ex.PayloadMeta.ShouldArchive || len(ex.PayloadMeta.DispatchTo) != 0 {
			t.Errorf("%q: meta %+v", name, ex.PayloadMeta)
		}
	}
}

// compareListing checks the worker's members against a reference listing:
// names, sizes, compressed sizes where the format has them, times to the
// minute (tar) or second, and encryption.
func compareListing(t *testing.T, tool, archive string, ac archiveCase, members []Member) {
	t.Helper()
	byName := map[string]Member{}
	for _, m := range members {
		byName[m.Filename] = m
	}
	type ref struct {
		name, size, packed, modified string
		encrypted                    *bool
	}
	var refs []ref
	switch tool {
	case "7z":
		for _, e := range sevenZipList(t, archive, "-pinfected") {
			enc := e.Encrypted == "+"
			refs = append(refs, ref{name: e.Path, size: e.Size, packed: e.Packed, modified: e.Modified, encrypted: &enc})
		}
	case "unzip":
		// -Z -l -T: perms version os size type csize method yyyymmdd.hhmmss name
		out := run(t, filepath.Dir(archive), "unzip", "-Z", "-l", "-T", archive)
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 9 || len(f[0]) != 10 || f[0][0] == 'd' {
				continue
			}
			name := strings.SplitN(sc.Text(), f[7]+" ", 2)[1]
			stamp := f[7]
			modified := stamp[:4] + "-" + stamp[4:6] + "-" + stamp[6:8] + " " + stamp[9:11] + ":" + stamp[11:13] + ":" + stamp[13:15]
			enc := f[4][0] == 'T' || f[4][0] == 'B'
			refs = append(refs, ref{name: name, size: f[3], packed: f[5], modified: modified, encrypted: &enc})
		}
	case "tar":
		// -tv: perms owner size date time name
		out := run(t, filepath.Dir(archive), "tar", "-tvf", archive)
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			line := sc.Text()
			f := strings.Fields(line)
			if len(f) < 6 || line[0] != '-' {
				continue
			}
			idx := strings.Index(line, f[4]+" ") + len(f[4]) + 1
			refs = append(refs, ref{name: line[idx:], size: f[2], modified: f[3] + " " + f[4]})
		}
	}
	if len(refs) != len(members) {
		t.Errorf("%s lists %d files, the worker %d", tool, len(refs), len(members))
	}
	for _, r := range refs {
		m, ok := byName[r.name]
		if !ok {
			t.Errorf("%s lists %q, the worker does not", tool, r.name)
			continue
		}
		if m.Size == nil || strconv.FormatInt(*m.Size, 10) != r.size {
			t.Errorf("%s: %s says size %s, the worker %v", r.name, tool, r.size, deref(m.Size))
		}
		if ac.packedSizes && r.packed != "" && (m.CompressedSize == nil || strconv.FormatInt(*m.CompressedSize, 10) != r.packed) {
			t.Errorf("%s: %s says compressed size %s, the worker %v", r.name, tool, r.packed, deref(m.CompressedSize))
		}
		if r.modified != "" {
			if m.Modified == nil {
				t.Errorf("%s: %s says modified %s, the worker has none", r.name, tool, r.modified)
			} else if got := strings.Replace(*m.Modified, "T", " ", 1); !strings.HasPrefix(got, r.modified[:min(len(r.modified), 19)]) {
				t.Errorf("%s: %s says modified %s, the worker %s", r.name, tool, r.modified, *m.Modified)
			}
		}
		if r.encrypted != nil && *r.encrypted != m.Encrypted {
			t.Errorf("%s: %s says encrypted %v, the worker %v", r.name, tool, *r.encrypted, m.Encrypted)
		}
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
