// Package chaindir is the escaping e() that names a chain in a checkpoint
// origin ("ron-audit/" + e(writerId) + "/" + e(stream)) and, as a
// directory, under a Keeper's checkpoints/ and a FileSink's export
// directory (e(writerId)/e(stream)). It lives here so that package sdk,
// which refuses names too long to be a directory, measures exactly what
// packages checkpoint and export write: sdk cannot import them.
package chaindir

import "strings"

// Unreserved reports whether b is written as itself by Escape: the
// RFC 3986 unreserved characters and '@' (writer ids are often
// "service@instance").
func Unreserved(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~' || b == '@'
}

const upperHex = "0123456789ABCDEF"

// Escape percent-encodes every byte of s that is not Unreserved, as %XX
// with upper-case hex.
func Escape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !Unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if Unreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
	return b.String()
}

// Name is the directory name of a writer id or stream: Escape(c), except
// that "." and "..", which escape to themselves and would name the
// directory itself or its parent, have their dots escaped ("%2E",
// "%2E%2E").
func Name(c string) string {
	e := Escape(c)
	if e == "." || e == ".." {
		return strings.ReplaceAll(e, ".", "%2E")
	}
	return e
}

// NameLen is len(Name(c)), counted without building it: what must fit in
// one directory name (NAME_MAX).
func NameLen(c string) int {
	switch c {
	case ".":
		return 3
	case "..":
		return 6
	}
	n := len(c)
	for i := 0; i < len(c); i++ {
		if !Unreserved(c[i]) {
			n += 2
		}
	}
	return n
}
