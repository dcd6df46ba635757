package capnpwire

import (
	"errors"
	"strconv"
)

// The categories of the errors of this package, for errors.Is. Package
// canonical exports them as canonical.ErrNotCanonical and
// canonical.ErrInvalid, so that the errors generated code returns (its
// Open* functions and AppendCanonical methods pass them on as they are)
// match canonical's categories as every other error of that package does.
var (
	ErrNotCanonical = errors.New("canonical: bytes not canonical") // *NonCanonicalError
	ErrInvalid      = errors.New("canonical: invalid record")      // *EncodeError
)

// NonCanonicalError reports why a byte string is not the canonical encoding
// of the expected struct type. It matches ErrNotCanonical.
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

// Is makes errors.Is(err, ErrNotCanonical) true.
func (e *NonCanonicalError) Is(target error) bool { return target == ErrNotCanonical }

// EncodeError reports a value that has no canonical encoding. It matches
// ErrInvalid.
type EncodeError struct {
	Field  string // "Struct.field"
	Reason string
}

func (e *EncodeError) Error() string {
	return "cannot encode " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *EncodeError) Is(target error) bool { return target == ErrInvalid }
