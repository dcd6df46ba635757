// Package capnpwire is the runtime of the code that gen/ generates: the few
// primitives of the Cap'n Proto wire format that canonical encoders, strict
// openers and zero-copy views share.
//
// Everything here works on a single-segment message without a segment table,
// which is the shape of every canonical Cap'n Proto message. Encoders append
// to a caller's []byte and back-patch pointers by position, so they never
// allocate when the slice has room. Views trust the bytes they read because
// the only way to get one is [Check], which walks every word exactly once.
//
// The canonical form is Cap'n Proto's (see "Canonicalization" in the
// encoding spec) with one rule added, "empty is null": an empty Text, Data or
// list, and a nested struct whose canonical data and pointer sections are both
// empty, is always a null pointer. canonical/SPEC.md specifies it in full.
//
// Two bounds hold for messages written and read here, beyond
// MaxMessageBytes: a bit list has at most MaxListLen elements (its
// pointer's count field), and the lists of zero-sized structs of a message
// together have at most one element per word of the message
// (MaxEmptyElems). Encoders refuse more with an *EncodeError and Check with
// a *NonCanonicalError, so a few bytes cannot make a reader allocate
// gigabytes.
//
// Nothing here wraps where int has 32 bits (GOARCH=386, arm; make go-test
// runs the tests there): Check compares pointer offsets in words and
// sizes as uint64, and encoders add up sizes with AddSize, which is exact
// up to MaxMessageBytes and saturates at TooBig above it (a value's
// canonical size is not bounded by its memory: a list may hold one long
// text many times).
package capnpwire

// Version guard, after protoimpl.EnforceVersion: generated code declares
//
//	const _ = capnpwire.EnforceVersion(GenVersion - capnpwire.MinGenVersion)
//	const _ = capnpwire.EnforceVersion(capnpwire.MaxGenVersion - GenVersion)
//
// with the GenVersion it was written for. A uint constant cannot be negative,
// so code generated for another runtime does not compile.
type EnforceVersion uint

const (
	// MinGenVersion is the oldest generated code this runtime supports.
	MinGenVersion = 1
	// MaxGenVersion is the newest generated code this runtime supports.
	MaxGenVersion = 1
)
