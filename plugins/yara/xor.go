package yara

import (
	"strconv"
	"strings"
)

// xorPlaintextPrefix starts the meta keys that give the known plaintext of
// one of a rule's strings: xor_plaintext_for_string_NAME = "…" is the
// plaintext of string $NAME (typically declared with yara's xor modifier).
const xorPlaintextPrefix = "xor_plaintext_for_string_"

// extractXORKeys derives the XOR keys of m's string matches whose plaintext
// a xor_plaintext_for_string_* meta gives, and records them in m.Meta as
// stoQ's yara dispatcher did:
//
//   - firstOnly: meta xorkey is the first key found, as text: a one-byte key
//     as its decimal value ("21"), a longer one as Python writes bytes
//     (b'\x11\x10');
//   - otherwise: meta xor_info lists every key found as
//     [offset, string identifier, key], the key written by EscapeData.
//
// A match whose data is not as long as its plaintext (libyara keeps at most
// 512 bytes of a match) or whose key does not repeat is skipped.
func extractXORKeys(m *Match, firstOnly bool) {
	plaintexts := map[string][]byte{}
	for k, v := range m.Meta {
		name, ok := strings.CutPrefix(k, xorPlaintextPrefix)
		if !ok {
			continue
		}
		if s, ok := v.(string); ok && s != "" {
			plaintexts["$"+name] = []byte(s)
		}
	}
	if len(plaintexts) == 0 {
		return
	}
	var info [][]any
	for _, sm := range m.Strings {
		plain, ok := plaintexts[sm.Identifier]
		if !ok || len(plain) != len(sm.Data) {
			continue
		}
		key := repeatingXORKey(sm.Data, plain)
		if key == nil {
			continue
		}
		if firstOnly {
			m.Meta["xorkey"] = xorKeyText(key)
			return
		}
		info = append(info, []any{sm.Offset, sm.Identifier, EscapeData(key)})
	}
	if len(info) > 0 {
		m.Meta["xor_info"] = info
	}
}

// repeatingXORKey XORs cipher with plain (of equal length) and returns the
// shortest prefix of the result that, repeated, reproduces all of it, or nil
// when only the whole result would (stoQ's rule: a key must repeat at least
// once, so data of one byte never yields a key).
func repeatingXORKey(cipher, plain []byte) []byte {
	n := len(plain)
	stream := make([]byte, n)
	for i := range n {
		stream[i] = cipher[i] ^ plain[i]
	}
	for period := 1; period < n; period++ {
		if isPeriodic(stream, period) {
			return stream[:period]
		}
	}
	return nil
}

func isPeriodic(b []byte, period int) bool {
	for i := period; i < len(b); i++ {
		if b[i] != b[i-period] {
			return false
		}
	}
	return true
}

// xorKeyText writes a key as stoQ's repr() did: one byte as its decimal
// value, several as a Python bytes literal.
func xorKeyText(key []byte) string {
	if len(key) == 1 {
		return strconv.Itoa(int(key[0]))
	}
	return pythonBytesRepr(key)
}
