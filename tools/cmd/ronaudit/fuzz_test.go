package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzReadLines: append's line reader gives exactly the lines of its
// input, in order: the input split at "\n", each without its "\n" and
// one "\r" before it, the last one only when it is not empty; a line
// longer than max (after that cut) comes as one tooLong line with no
// text, and the lines after it still come; a read error ends the lines
// (a line it cut is dropped) with one error. Whatever the reads' sizes:
// mode bit 0 reads one byte at a time (half the asked for with bit 2),
// bit 1 ends the input with an error, bit 2 repeats the input past
// bufio's 64 KiB buffer (and scales max up) so that lines span buffer
// fills. Seeds:
// testdata/fuzz/FuzzReadLines.
func FuzzReadLines(f *testing.F) {
	f.Add([]byte("{\"kind\":\"GetServed\"}\n\n{}\r\nlast"), uint16(8), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, maxArg uint16, mode uint8) {
		max := int(maxArg) % 300
		if mode&4 != 0 {
			const big = 1<<16 + 1<<12 // past bufio's 64 KiB
			data = bytes.Repeat(data, big/(len(data)+1)+1)
			if len(data) > big {
				data = data[:big]
			}
			max = int(maxArg) * 2
		}
		var r io.Reader = bytes.NewReader(data)
		switch {
		case mode&1 != 0 && mode&4 != 0:
			r = iotest.HalfReader(r) // one byte at a time would be slow here
		case mode&1 != 0:
			r = iotest.OneByteReader(r)
		}
		errBoom := errors.New("boom")
		if mode&2 != 0 {
			r = io.MultiReader(r, iotest.ErrReader(errBoom))
		}

		// The model.
		type line struct {
			text    string
			tooLong bool
		}
		var want []line
		pieces := bytes.Split(data, []byte("\n"))
		last := pieces[len(pieces)-1]
		pieces = pieces[:len(pieces)-1]
		if mode&2 == 0 && len(last) > 0 {
			pieces = append(pieces, last)
		}
		for _, p := range pieces {
			p = bytes.TrimSuffix(p, []byte("\r"))
			if len(p) > max {
				want = append(want, line{"", true})
			} else {
				want = append(want, line{string(p), false})
			}
		}

		var got []line
		sawErr := false
		for l := range readLines(r, max) {
			if sawErr {
				t.Fatal("a line after the read error")
			}
			if l.err != nil {
				if !errors.Is(l.err, errBoom) || l.text != nil || l.tooLong {
					t.Fatalf("error line %+v", l)
				}
				sawErr = true
				continue
			}
			if l.tooLong && l.text != nil {
				t.Fatalf("line %d: tooLong with %d bytes of text", len(got)+1, len(l.text))
			}
			got = append(got, line{string(l.text), l.tooLong})
		}
		if sawErr != (mode&2 != 0) {
			t.Fatalf("read error reported %v, the input ended with one %v", sawErr, mode&2 != 0)
		}
		if len(got) != len(want) {
			t.Fatalf("%d lines, want %d (max %d, mode %d)", len(got), len(want), max, mode)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("line %d: %q tooLong %v, want %q tooLong %v (max %d)", i+1, got[i].text, got[i].tooLong, want[i].text, want[i].tooLong, max)
			}
		}
	})
}

// FuzzDecodeHashes: verify-proof's reader of a proof's hashes accepts
// only what prove writes: every string it accepts is the standard padded
// base64 of the 32 bytes it returns, no other spelling (no white space,
// no other alphabet, no unpadded form); what it refuses it refuses by the
// index of the bad hash. Seeds: testdata/fuzz/FuzzDecodeHashes.
func FuzzDecodeHashes(f *testing.F) {
	f.Add("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	f.Fuzz(func(t *testing.T, s string) {
		hs, err := decodeHashes([]string{s})
		if err == nil {
			if len(hs) != 1 || encodeHashes(hs)[0] != s {
				t.Fatalf("accepted %q, which prove writes as %q", s, encodeHashes(hs))
			}
		}
		good := strings.Repeat("A", 43) + "="
		_, err2 := decodeHashes([]string{good, s})
		if (err == nil) != (err2 == nil) {
			t.Fatalf("%q alone: %v; second: %v", s, err, err2)
		}
		if err2 != nil && !strings.Contains(err2.Error(), "proof hash 1 ") {
			t.Fatalf("error %q does not name hash 1", err2)
		}
	})
}
