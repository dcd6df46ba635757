package gen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SumPrefix starts the header line in which the generator records a hash
// of the file it wrote:
//
//	// ronaudit-gen-sha256: <64 hex digits>
//
// The digits are the SHA-256 of the whole file as written, with those 64
// digits replaced by 64 zeros (so the line can hold the hash of the file
// that holds it). The canonical bytes of every record come from generated
// encoders: a hand edit to one would change the format without a schema
// change, so the ronaudit-lint analyzer "generated" recomputes this hash
// and reports any file whose content no longer matches it. The sum
// catches edits made by mistake, not by intent (anyone can recompute it);
// TestGolden compares each whole file with what the generator writes.
const SumPrefix = "// ronaudit-gen-sha256: "

// zeroSum stands for the hash while it is computed.
var zeroSum = strings.Repeat("0", 2*sha256.Size)

// seal fills in the sum line of src, which the emitter wrote with zeroSum.
func seal(src []byte) []byte {
	i := bytes.Index(src, []byte(SumPrefix+zeroSum))
	if i < 0 {
		panic("gen: the emitted header has no " + SumPrefix + "line")
	}
	sum := sha256.Sum256(src)
	hex.Encode(src[i+len(SumPrefix):], sum[:])
	return src
}

// FileSum finds the sum line in the header of the generated file src (the
// comment lines before the package clause) and returns the hash it states
// and the hash src actually has under the scheme of SumPrefix. found is
// false when the header has no sum line. A file is as the generator wrote
// it exactly when stated == actual.
func FileSum(src []byte) (stated, actual string, found bool) {
	start := -1
	for off := 0; off < len(src); {
		line := src[off:]
		if j := bytes.IndexByte(line, '\n'); j >= 0 {
			line = line[:j+1]
		}
		if bytes.HasPrefix(line, []byte("package ")) {
			break
		}
		if bytes.HasPrefix(line, []byte(SumPrefix)) {
			start = off + len(SumPrefix)
			break
		}
		off += len(line)
	}
	if start < 0 {
		return "", "", false
	}
	end := start + bytes.IndexByte(src[start:], '\n')
	if end < start { // the sum line is the last line
		end = len(src)
	}
	stated = string(src[start:end])
	// Hash the file with the stated digits, whatever their length, cut
	// out and zeros in their place.
	h := sha256.New()
	h.Write(src[:start])
	h.Write([]byte(zeroSum))
	h.Write(src[end:])
	return stated, hex.EncodeToString(h.Sum(nil)), true
}
