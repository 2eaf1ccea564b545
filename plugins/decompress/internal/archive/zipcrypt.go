package archive

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// The two zip encryptions in use, decrypt side only, built on the standard
// library's primitives (AES, HMAC-SHA1, PBKDF2, CRC-32 tables):
//
//   - ZipCrypto, the original PKWARE stream cipher (APPNOTE.TXT section
//     6.1), as written by zip -P and 7z -tzip -mem=ZipCrypto;
//   - WinZip AES (AE-1 and AE-2, method 99), as written by 7z -tzip
//     -mem=AES256 and WinZip: PBKDF2-HMAC-SHA1 (1,000 iterations) derives
//     the AES key, the HMAC-SHA1 key and a 2-byte password check; the data
//     is AES in counter mode with a little-endian counter starting at 1,
//     authenticated by the first 10 bytes of an HMAC-SHA1 of the
//     ciphertext.

// zipCryptoReader decrypts a ZipCrypto member.
type zipCryptoReader struct {
	src        *bytes.Reader
	k0, k1, k2 uint32
}

var crcTable = crc32.MakeTable(crc32.IEEE)

// newZipCryptoReader initialises the keys from password and decrypts the
// 12-byte encryption header, whose last byte must equal check (the high
// byte of the CRC-32, or of the DOS time when the member has a data
// descriptor): otherwise the password is wrong.
func newZipCryptoReader(raw, password []byte, check byte) (*zipCryptoReader, error) {
	z := &zipCryptoReader{k0: 0x12345678, k1: 0x23456789, k2: 0x34567890}
	for _, b := range password {
		z.update(b)
	}
	if len(raw) < 12 {
		return nil, fmt.Errorf("ZipCrypto: %d bytes, shorter than the 12-byte encryption header", len(raw))
	}
	var hdr [12]byte
	copy(hdr[:], raw[:12])
	z.decrypt(hdr[:])
	if hdr[11] != check {
		return nil, fmt.Errorf("ZipCrypto: %w", errWrongPassword)
	}
	z.src = bytes.NewReader(raw[12:])
	return z, nil
}

func (z *zipCryptoReader) update(b byte) {
	z.k0 = crcTable[byte(z.k0)^b] ^ z.k0>>8
	z.k1 = (z.k1+z.k0&0xff)*134775813 + 1
	z.k2 = crcTable[byte(z.k2)^byte(z.k1>>24)] ^ z.k2>>8
}

func (z *zipCryptoReader) decrypt(p []byte) {
	for i, c := range p {
		t := z.k2 | 2
		b := c ^ byte((t*(t^1))>>8)
		z.update(b)
		p[i] = b
	}
}

func (z *zipCryptoReader) Read(p []byte) (int, error) {
	n, err := z.src.Read(p)
	z.decrypt(p[:n])
	return n, err
}

// aesExtra is the WinZip AES extra field (id 0x9901).
type aesExtra struct {
	version  uint16 // 1 (AE-1, CRC kept) or 2 (AE-2, CRC zero)
	strength byte   // 1, 2, 3: AES-128, -192, -256
	method   uint16 // the compression method under the encryption
}

func parseAESExtra(extra []byte) (aesExtra, error) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		size := int(binary.LittleEndian.Uint16(extra[2:]))
		if len(extra) < 4+size {
			break
		}
		body := extra[4 : 4+size]
		extra = extra[4+size:]
		if id != 0x9901 {
			continue
		}
		if size < 7 || string(body[2:4]) != "AE" {
			return aesExtra{}, errors.New("WinZip AES: malformed extra field")
		}
		e := aesExtra{version: binary.LittleEndian.Uint16(body), strength: body[4], method: binary.LittleEndian.Uint16(body[5:])}
		if e.strength < 1 || e.strength > 3 {
			return aesExtra{}, fmt.Errorf("WinZip AES: unknown key strength %d", e.strength)
		}
		return e, nil
	}
	return aesExtra{}, errors.New("WinZip AES: method 99 without its extra field")
}

const (
	aesIterations = 1000
	aesMACSize    = 10
)

// aesReader decrypts a WinZip AES member and authenticates it.
type aesReader struct {
	data   *bytes.Reader
	mac    hash.Hash
	stored []byte // the 10-byte authentication code
	block  cipher.Block
	ctr    [aes.BlockSize]byte
	ks     [16 * aes.BlockSize]byte
	ksPos  int
	ksLen  int
}

// newAESReader derives the keys of password with the member's salt and
// checks the password verification value.
func newAESReader(raw, password []byte, strength byte) (*aesReader, error) {
	keyLen := 8 + 8*int(strength) // 16, 24, 32
	saltLen := keyLen / 2
	if len(raw) < saltLen+2+aesMACSize {
		return nil, fmt.Errorf("WinZip AES: %d bytes, too short for salt, check value and code", len(raw))
	}
	salt, verifier := raw[:saltLen], raw[saltLen:saltLen+2]
	keys, err := pbkdf2.Key(sha1.New, string(password), salt, aesIterations, 2*keyLen+2)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(keys[2*keyLen:], verifier) != 1 {
		return nil, fmt.Errorf("WinZip AES: %w", errWrongPassword)
	}
	block, err := aes.NewCipher(keys[:keyLen])
	if err != nil {
		return nil, err
	}
	body := raw[saltLen+2 : len(raw)-aesMACSize]
	return &aesReader{
		data:   bytes.NewReader(body),
		mac:    hmac.New(sha1.New, keys[keyLen:2*keyLen]),
		stored: raw[len(raw)-aesMACSize:],
		block:  block,
	}, nil
}

func (a *aesReader) Read(p []byte) (int, error) {
	n, err := a.data.Read(p)
	a.mac.Write(p[:n])
	for done := 0; done < n; {
		if a.ksPos == a.ksLen {
			a.refill()
		}
		k := subtle.XORBytes(p[done:n], p[done:n], a.ks[a.ksPos:a.ksLen])
		a.ksPos += k
		done += k
	}
	return n, err
}

// refill computes the next 16 blocks of key stream: the counter is a
// 128-bit little-endian number, first used at 1.
func (a *aesReader) refill() {
	for i := 0; i < len(a.ks); i += aes.BlockSize {
		for j := range a.ctr {
			a.ctr[j]++
			if a.ctr[j] != 0 {
				break
			}
		}
		a.block.Encrypt(a.ks[i:i+aes.BlockSize], a.ctr[:])
	}
	a.ksPos, a.ksLen = 0, len(a.ks)
}

// authenticate hashes any ciphertext the decoder left unread and compares
// the authentication code.
func (a *aesReader) authenticate() error {
	if _, err := io.Copy(a.mac, a.data); err != nil {
		return err
	}
	if !hmac.Equal(a.mac.Sum(nil)[:aesMACSize], a.stored) {
		return errors.New("WinZip AES: authentication code mismatch (wrong password or corrupt member)")
	}
	return nil
}
