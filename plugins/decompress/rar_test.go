package decompress

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// RAR test archives. Debian has no free program that writes RAR (rar is
// RARLAB's proprietary tool), so the tests write RAR 5 archives themselves,
// following RARLAB's published format description (technote "RAR 5.0
// archive format"): the signature, a main archive header, one file header
// per member with its data stored (method 0), and the end-of-archive
// header, each header with its CRC-32, and optionally RAR 5's AES-256
// encryption of the data. 7z (which lists RAR, and tests stored and
// encrypted members without the non-free RAR decompressor) checks the
// generated archives. rardecode's decompressors (RAR 1.5 to 7 methods) are
// covered by its own test suite, not here: without a RAR compressor there
// is no honest way to make such archives in a test.

type rarFile struct {
	name    string
	content []byte
	mtime   time.Time
}

func rarVint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// rarBlock frames a RAR 5 header: CRC-32, size, type, flags, the extra
// area's size when there is one, the data size when the block carries
// data, then the type's fields and the extra area.
func rarBlock(typ uint64, fields []byte, dataSize int, extra ...byte) []byte {
	var h []byte
	h = rarVint(h, typ)
	flags := uint64(0)
	if len(extra) > 0 {
		flags |= 0x0001
	}
	if dataSize >= 0 {
		flags |= 0x0002
	}
	h = rarVint(h, flags)
	if len(extra) > 0 {
		h = rarVint(h, uint64(len(extra)))
	}
	if dataSize >= 0 {
		h = rarVint(h, uint64(dataSize))
	}
	h = append(h, fields...)
	h = append(h, extra...)
	framed := rarVint(nil, uint64(len(h)))
	framed = append(framed, h...)
	out := binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(framed))
	return append(out, framed...)
}

// rar5Stored writes a RAR 5 archive of files, stored.
func rar5Stored(files []rarFile) []byte { return rar5(files, "") }

// rar5 writes a RAR 5 archive of files, stored, and encrypted with
// password when it is not empty: AES-256-CBC with a key from
// PBKDF2-HMAC-SHA256 (2^kdfLog2 rounds), the password check value
// (rounds + 32, folded to 8 bytes, with 4 bytes of its SHA-256) in the
// file encryption record (extra record 0x01), plain CRC-32s.
func rar5(files []rarFile, password string) []byte {
	out := []byte("Rar!\x1a\x07\x01\x00")
	out = append(out, rarBlock(1, rarVint(nil, 0), -1)...) // main header, no archive flags
	for _, f := range files {
		var fields []byte
		fields = rarVint(fields, 0x0002|0x0004) // file flags: Unix mtime, CRC-32
		fields = rarVint(fields, uint64(len(f.content)))
		fields = rarVint(fields, 0o100644) // attributes (Unix mode)
		fields = binary.LittleEndian.AppendUint32(fields, uint32(f.mtime.Unix()))
		fields = binary.LittleEndian.AppendUint32(fields, crc32.ChecksumIEEE(f.content))
		fields = rarVint(fields, 0) // compression: version 0, method 0 (store)
		fields = rarVint(fields, 1) // host OS: Unix
		fields = rarVint(fields, uint64(len(f.name)))
		fields = append(fields, f.name...)
		data, extra := f.content, []byte(nil)
		if password != "" {
			data, extra = rarEncrypt(f.content, password, uint64(len(files)))
		}
		out = append(out, rarBlock(2, fields, len(data), extra...)...)
		out = append(out, data...)
	}
	return append(out, rarBlock(5, rarVint(nil, 0), -1)...) // end of archive
}

const rarKDFLog2 = 15

// rarEncrypt returns content encrypted for RAR 5 and the file encryption
// extra record; seed makes the salt and IV deterministic.
func rarEncrypt(content []byte, password string, seed uint64) ([]byte, []byte) {
	salt := randomBytes(16, seed+100)
	iv := randomBytes(16, seed+200)
	rounds := 1 << rarKDFLog2
	key, _ := pbkdf2.Key(sha256.New, password, salt, rounds, 32)
	v2, _ := pbkdf2.Key(sha256.New, password, salt, rounds+32, 32)
	var check [8]byte
	for i, b := range v2 {
		check[i%8] ^= b
	}
	sum := sha256.Sum256(check[:])
	padded := make([]byte, (len(content)+15)/16*16)
	copy(padded, content)
	block, _ := aes.NewCipher(key)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(padded, padded)
	var rec []byte
	rec = rarVint(rec, 0x01)   // record type: file encryption
	rec = rarVint(rec, 0)      // version: AES-256
	rec = rarVint(rec, 0x0001) // flags: password check data present
	rec = append(rec, rarKDFLog2)
	rec = append(rec, salt...)
	rec = append(rec, iv...)
	rec = append(rec, check[:]...)
	rec = append(rec, sum[:4]...)
	return padded, append(rarVint(nil, uint64(len(rec))), rec...)
}

func TestRAREncrypted(t *testing.T) {
	files := []rarFile{
		{"secret.txt", []byte("opened with infected\n"), corpusMTime},
		{"random.bin", randomBytes(100_001, 3), corpusMTime},
	}
	archive := rar5(files, "infected")
	path := filepath.Join(t.TempDir(), "enc.rar")
	os.WriteFile(path, archive, 0o644)
	if _, err := os.Stat("/usr/bin/7z"); err == nil {
		// 7z decrypts it too (AES is not the non-free part).
		run(t, filepath.Dir(path), "7z", "t", "-pinfected", path)
	}
	resp := scan(t, newWorker(t, nil), archive, "enc.rar")
	if len(resp.Errors) != 0 {
		t.Fatalf("errors: %v", errorMessages(resp))
	}
	got := extractedByName(t, resp)
	for _, f := range files {
		ex := got[f.name]
		if !bytes.Equal(ex.Content, f.content) || ex.PayloadMeta.ExtraData["password"] != "infected" || ex.PayloadMeta.ExtraData["encrypted"] != true {
			t.Errorf("%s: %d bytes, extra_data %v", f.name, len(ex.Content), ex.PayloadMeta.ExtraData)
		}
	}
	resp = scan(t, newWorker(t, map[string]string{"passwords": "-,wrong"}), archive, "enc.rar")
	if len(resp.Extracted) != 0 {
		t.Errorf("extracted %d with wrong passwords", len(resp.Extracted))
	}
	requireError(t, resp, `"secret.txt"`, "encrypted", "none of the 2 passwords")
	for _, m := range resp.Results.(*Results).Members {
		if !m.Encrypted {
			t.Errorf("%s not listed as encrypted", m.Filename)
		}
	}
}

func TestRARStored(t *testing.T) {
	files := []rarFile{
		{"hello.txt", []byte("hello, stoq\n"), corpusMTime},
		{"docs/random.bin", randomBytes(300_000, 2), corpusMTime.Add(time.Hour)},
		{"empty.txt", nil, corpusMTime},
		{"../../escape.txt", []byte("names are data"), corpusMTime},
		{"with space/résumé ü.txt", []byte("non-ASCII name\n"), corpusMTime},
	}
	archive := rar5Stored(files)
	path := filepath.Join(t.TempDir(), "a.rar")
	if err := os.WriteFile(path, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	resp := scanFile(t, newWorker(t, nil), path)
	if len(resp.Errors) != 0 {
		t.Fatalf("errors: %v", errorMessages(resp))
	}
	got := extractedByName(t, resp)
	if len(got) != len(files) {
		t.Errorf("extracted %v", slices.Sorted(maps.Keys(got)))
	}
	for _, f := range files {
		ex, ok := got[f.name]
		if !ok || !bytes.Equal(ex.Content, f.content) || ex.PayloadMeta.ExtraData["archive_type"] != "rar" {
			t.Errorf("%q: extracted %v, extra_data %v", f.name, ok, ex.PayloadMeta)
		}
	}
	results := resp.Results.(*Results)
	if results.ArchiveType != "rar" || len(results.Members) != len(files) {
		t.Fatalf("results %+v", results)
	}
	for i, m := range results.Members {
		f := files[i]
		if m.Filename != f.name || *m.Size != int64(len(f.content)) || *m.CompressedSize != int64(len(f.content)) ||
			*m.Modified != f.mtime.UTC().Format(time.RFC3339) || m.Encrypted {
			t.Errorf("member %d: %+v (size %v, packed %v, modified %v)", i, m, deref(m.Size), deref(m.CompressedSize), *m.Modified)
		}
	}
	// 7z reads the generated archive the same way.
	if _, err := os.Stat("/usr/bin/7z"); err == nil {
		run(t, filepath.Dir(path), "7z", "t", path)
		ac := archiveCase{format: "rar", packedSizes: true}
		compareListing(t, "7z", path, ac, results.Members)
	}
}

// A RAR member over maximum_size is dropped and the next one extracted;
// the limits apply to RAR as to every format.
func TestRARLimits(t *testing.T) {
	archive := rar5Stored([]rarFile{
		{"big", randomBytes(200_000, 1), corpusMTime},
		{"small", []byte("x"), corpusMTime},
	})
	resp := scan(t, newWorker(t, map[string]string{"maximum_size": "300000", "max_total_size": "150000"}), archive, "")
	requireError(t, resp, "max_total_size", `"big"`)
	resp = scan(t, newWorker(t, map[string]string{"maximum_size": "300000"}), archive, "")
	if got := extractedByName(t, resp); len(got) != 2 {
		t.Errorf("extracted %v", slices.Sorted(maps.Keys(got)))
	}
	var many []rarFile
	for i := range 1500 {
		many = append(many, rarFile{"f" + strconv.Itoa(i), []byte{byte(i)}, corpusMTime})
	}
	resp = scan(t, newWorker(t, nil), rar5Stored(many), "")
	if len(resp.Extracted) != 1000 {
		t.Errorf("extracted %d of a 1,500-member RAR, want 1000", len(resp.Extracted))
	}
	requireError(t, resp, "max_members (1000)", `"f1000"`)
}
