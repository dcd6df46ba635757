package checkpoint

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rustyonions/ron-audit-go/internal/chaindir"
)

// OriginPrefix begins the origin line of every ron-audit checkpoint.
const OriginPrefix = "ron-audit/"

// unreserved reports whether b is written as itself in an origin
// (chaindir.Unreserved: RFC 3986 unreserved and '@').
func unreserved(b byte) bool { return chaindir.Unreserved(b) }

// escapeComponent percent-encodes every byte of s that is not unreserved,
// as %XX with upper-case hex (chaindir.Escape, which package sdk measures
// names by).
func escapeComponent(s string) string { return chaindir.Escape(s) }

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false // lower case hex is not canonical
}

// unescapeComponent reverses escapeComponent and accepts only its output:
// unreserved bytes as themselves, every other byte as %XX upper case, and
// the decoded text non-empty, valid UTF-8 and without NUL (a record's Text
// rules).
func unescapeComponent(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case unreserved(c):
			b = append(b, c)
		case c == '%' && i+2 < len(s):
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			d := hi<<4 | lo
			if !ok1 || !ok2 || unreserved(d) || d == 0 {
				return "", false
			}
			b = append(b, d)
			i += 2
		default:
			return "", false
		}
	}
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// Origin returns the origin line of the checkpoints of chain (writerID,
// stream): "ron-audit/" + e(writerID) + "/" + e(stream), where e writes
// the bytes A-Z a-z 0-9 '-' '.' '_' '~' '@' as themselves and every other
// byte (including '/', '%', '+', space and each byte of a multi-byte UTF-8
// character) as '%' and two upper-case hex digits. The mapping is one to
// one and the result is a valid note key name (no space, no '+').
// Origin does not check its inputs; ParseOrigin refuses an empty or
// invalid writer id or stream.
func Origin(writerID, stream string) string {
	return OriginPrefix + escapeComponent(writerID) + "/" + escapeComponent(stream)
}

// ParseOrigin returns the writer id and stream an origin line names. It
// accepts exactly the strings Origin returns for a non-empty writer id and
// stream of valid UTF-8 without NUL; anything else (another prefix, a
// missing or extra '/', a byte escaped that need not be or not escaped
// that must be, lower-case hex) is an *Error with ReasonFormat.
func ParseOrigin(origin string) (writerID, stream string, err error) {
	rest, ok := strings.CutPrefix(origin, OriginPrefix)
	if ok {
		w, s, ok2 := strings.Cut(rest, "/")
		if ok2 {
			if writerID, ok = unescapeComponent(w); ok {
				if stream, ok = unescapeComponent(s); ok {
					return writerID, stream, nil
				}
			}
		}
	}
	return "", "", newErr(ReasonFormat, "origin line "+quote(origin)+" is not \"ron-audit/<writer id>/<stream>\" percent-encoded as this package writes it", nil)
}

// quote quotes s for an error message, cut to at most 128 bytes.
func quote(s string) string {
	if len(s) > 128 {
		return strconv.Quote(s[:128]) + "..."
	}
	return strconv.Quote(s)
}
