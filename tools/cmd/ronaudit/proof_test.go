package main

import (
	"strings"
	"testing"
)

// TestDecodeHashesStrict: a proof hash is read only as prove writes it,
// standard padded base64 of 32 bytes. base64's decoder skips "\r" and
// "\n" even in Strict mode, so, to the decoder alone, a hash with a line
// break in it (the JSON escape "\n") is the same hash: two spellings of one
// proof file (FuzzDecodeHashes's corpus holds the cases: newline-inside,
// crlf-at-end).
func TestDecodeHashesStrict(t *testing.T) {
	const good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	if hs, err := decodeHashes([]string{good}); err != nil || hs[0][31] != 31 {
		t.Fatalf("%q: %v", good, err)
	}
	for _, s := range []string{
		good[:20] + "\n" + good[20:],
		good + "\r\n",
		"\n" + good,
		good[:10] + "\r" + good[10:],
		good[:43],                      // unpadded
		strings.Repeat("A", 42) + "==", // 31 bytes
		good[:20] + " " + good[20:],
	} {
		if _, err := decodeHashes([]string{good, s}); err == nil || !strings.Contains(err.Error(), "proof hash 1 ") {
			t.Errorf("%q accepted or the error does not name hash 1: %v", s, err)
		}
	}
}
