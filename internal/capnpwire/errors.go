package capnpwire

import "strconv"

// NonCanonicalError reports why a byte string is not the canonical encoding
// of the expected struct type.
type NonCanonicalError struct {
	Offset int    // byte offset in the message of the offending word
	Field  string // "Struct.field" being read, or "" for the message frame
	Reason string // what rule is broken
}

func (e *NonCanonicalError) Error() string {
	s := "not canonical at byte " + strconv.Itoa(e.Offset)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	return s + ": " + e.Reason
}

// EncodeError reports a value that has no canonical encoding.
type EncodeError struct {
	Field  string // "Struct.field"
	Reason string
}

func (e *EncodeError) Error() string {
	return "cannot encode " + e.Field + ": " + e.Reason
}
