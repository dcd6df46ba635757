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
