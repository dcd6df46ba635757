package canonical

import (
	"errors"
	"strconv"

	"github.com/rustyonions/ron-audit-go/internal/capnpwire"
	"github.com/rustyonions/ron-audit-go/internal/names"
)

// Categories of error, for errors.Is. Every error of this package is one of
// the typed errors below and matches exactly one category, the generated
// functions' (Open*, AppendCanonical) included.
var (
	ErrInvalid      = capnpwire.ErrInvalid                      // *FieldError, *EncodeError
	ErrTooLarge     = errors.New("canonical: record too large") // *SizeError
	ErrNotCanonical = capnpwire.ErrNotCanonical                 // *NonCanonicalError
)

// NonCanonicalError reports bytes that are not exactly the canonical
// encoding of a record: it names the byte offset and the rule broken.
// It matches ErrNotCanonical.
type NonCanonicalError = capnpwire.NonCanonicalError

// EncodeError reports a value with no canonical encoding (an enum value the
// schema lacks). It matches ErrInvalid. AppendCanonical returns it;
// AppendRecord and DedupeKey return a *FieldError instead.
type EncodeError = capnpwire.EncodeError

// FieldError reports a record field that breaks a rule of the format.
// Field is as the input spelled it (an unknown JSON field name is the
// input's text); Error writes each character of it that is not
// printable (a newline, a terminal escape, a right-to-left override) as
// its Go escape, so the message stays one line that reads as its bytes.
type FieldError struct {
	Field  string // e.g. "attrs[2].key"
	Reason string
}

func (e *FieldError) Error() string { return "canonical: " + names.Line(e.Field) + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// SizeError reports a record or attribute list over its limit, in
// canonical bytes.
type SizeError struct {
	What string // "record" or "attrs"
	// Size is exact up to 1<<28 bytes (the encoder's message limit). Above
	// it sizes are not summed exactly (they could wrap), so Size is then
	// just more than 1<<28, and Error says "over 268435456".
	Size  int
	Limit int
}

func (e *SizeError) Error() string {
	if e.Size > capnpwire.MaxMessageBytes {
		return "canonical: " + e.What + " is over " + strconv.Itoa(capnpwire.MaxMessageBytes) + " canonical bytes, limit " + strconv.Itoa(e.Limit)
	}
	return "canonical: " + e.What + " is " + strconv.Itoa(e.Size) + " canonical bytes, limit " + strconv.Itoa(e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }

// wrapWire gives the runtime's errors their category.
func wrapWire(err error) error {
	var nc *NonCanonicalError
	if errors.As(err, &nc) {
		return &notCanonical{nc}
	}
	var ee *EncodeError
	if errors.As(err, &ee) {
		return &FieldError{Field: ee.Field, Reason: ee.Reason}
	}
	return err
}

// notCanonical keeps *NonCanonicalError reachable with errors.As and adds
// the ErrNotCanonical category.
type notCanonical struct{ e *NonCanonicalError }

func (n *notCanonical) Error() string        { return "canonical: " + n.e.Error() }
func (n *notCanonical) Unwrap() error        { return n.e }
func (n *notCanonical) Is(target error) bool { return target == ErrNotCanonical }
