// Package names spells the names a record carries (writer id, stream) in
// messages and command output. They come from the records, so a log
// whose bytes someone changed, or a writer that chose its own names, can
// put anything in them: a newline and a line of its own ("ok: ..."), a
// terminal escape, a right-to-left override, a '/' that moves where the
// writer id ends. Printed as they are, they could make a report say what
// it does not. Chain writes a plain name as itself and any other quoted,
// so each message stays one line that means what it says.
package names

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Chain is the chain (writerID, stream) for a message: "writer/stream",
// or, when either name is not Plain, both quoted as Go strings
// ("\"a\\nb\"/\"s\"").
func Chain(writerID, stream string) string {
	if Plain(writerID) && Plain(stream) {
		return writerID + "/" + stream
	}
	return strconv.Quote(writerID) + "/" + strconv.Quote(stream)
}

// Name is one name for a message: itself when Plain, else quoted.
func Name(s string) string {
	if Plain(s) {
		return s
	}
	return strconv.Quote(s)
}

// Plain reports whether s can be printed as itself: not empty, valid
// UTF-8 of printable characters (strconv.IsPrint: no control, format or
// separator characters), and none of space, '/' (which separates writer
// from stream) and '"' (which starts a quoted name).
func Plain(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '/' || r == '"' || r == ' ' || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// Path is a file path for a message: itself when it is valid UTF-8 of
// printable characters (strconv.IsPrint: a space is one; a newline, a
// terminal escape, a right-to-left override are not) and does not begin
// with '"', else quoted as a Go string. A path under a directory someone
// else made (an export tree an auditor was given) can hold a newline and
// a line of its own.
func Path(p string) string {
	if p != "" && p[0] != '"' && printable(p) {
		return p
	}
	return strconv.Quote(p)
}

// Line is s for one line of a message: each character that is not
// printable, and each byte of invalid UTF-8, written as its Go escape
// (as strconv.Quote writes it: "\n", "\x1b", "\u202e", "\xff"), the rest
// as it is. A message that holds names someone else chose (the files
// under a directory an auditor was given) stays one line that means
// what it says.
func Line(s string) string {
	if printable(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
			q := strconv.Quote(s[i : i+n])
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// JSON is b, JSON text as encoding/json writes it, with each character
// Line would escape written as its JSON escape instead ("\u202e", a
// character past U+FFFF as its UTF-16 pair "\udb40\udc41"; a byte of
// invalid UTF-8, which a JSON reader takes as U+FFFD, as "\ufffd"): the
// same JSON value, shown as it is. encoding/json escapes C0 controls in
// strings, U+2028 and U+2029, but writes a right-to-left override, a C1
// control or DEL as it is, and a terminal then shows a record's text
// otherwise than its bytes. ASCII bytes but DEL are left as they are:
// outside strings they are JSON's own (the newline after a value).
// It returns b itself when nothing needs escaping.
func JSON(b []byte) []byte {
	var out []byte
	done := 0 // b[:done] is in out
	for i := 0; i < len(b); {
		if c := b[i]; c < utf8.RuneSelf && c != 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if !(r == utf8.RuneError && n == 1) && strconv.IsPrint(r) {
			i += n
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b)+32)
		}
		out = append(out, b[done:i]...)
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			out = appendU(appendU(out, r1), r2)
		} else {
			out = appendU(out, r)
		}
		i += n
		done = i
	}
	if out == nil {
		return b
	}
	return append(out, b[done:]...)
}

// appendU appends the JSON escape \uXXXX of r, at most U+FFFF.
func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// printable reports whether s is valid UTF-8 of printable characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}
