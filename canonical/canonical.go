package canonical

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/zeebo/blake3"

	"github.com/rustyonions/ron-audit-go/internal/capnpwire"
)

// Version is the record format version: the value of every record's v
// field. It does not change when the schema grows (new fields, enumerants
// or structs, see SchemaVersion): a record that sets none of a later
// schema version's fields keeps its bytes, v included, and so its hash.
// Readers refuse any other v; a new Version would be a new, incompatible
// format (new hash contexts, new vectors), which schema growth never is.
const Version = 1

// SchemaVersion is the released schema version the generated code of this
// package (audit.capnp.go, from schema/audit.capnp) is built from. Its
// layout is schema/history/v<SchemaVersion>.json, and the performance
// baselines are kept per schema version. A release of a schema that grew
// bumps it by one and records the layout in the same change (SPEC.md
// section 8); make schema-check, and go test (TestRealSchemaCheck in
// tools/cmd/schemacheck), fail while the two disagree.
const SchemaVersion = 1

// Domain separation. Each constant is part of the format: changing one
// changes every hash or signature.
const (
	// HashContext is the BLAKE3 derive_key context of record hashes.
	HashContext = "ron-audit 2026-11-27 record hash v1"
	// DedupeContext is the BLAKE3 derive_key context of dedupe keys.
	DedupeContext = "ron-audit 2026-11-27 dedupe key v1"
	// SigPrefix starts every signed message; the 32 hash bytes follow.
	SigPrefix = "RONAUDIT-SIG-V1"
)

// Size rules, in canonical bytes.
const (
	// MaxRecordSize is the format's hard limit: no reader needs to accept a
	// longer record, and Open refuses one.
	MaxRecordSize = 64 << 10
	// DefaultMaxRecord and DefaultMaxAttrs are the default policy limits.
	DefaultMaxRecord = 4 << 10
	DefaultMaxAttrs  = 1 << 10
	// MinMaxAttrs is the smallest attrs limit a policy may set, and so
	// the smallest record limit too (Limits.Check).
	MinMaxAttrs = 256
)

// Limits is a size policy for encoding records; see DefaultLimits. Check
// says whether one is within the format's bounds.
type Limits struct {
	MaxRecord int // whole record, MinMaxAttrs..MaxRecordSize
	MaxAttrs  int // the attrs list, MinMaxAttrs..MaxRecord
}

// DefaultLimits are 4 KiB per record and 1 KiB of attrs.
var DefaultLimits = Limits{MaxRecord: DefaultMaxRecord, MaxAttrs: DefaultMaxAttrs}

// Check reports a policy outside the format's bounds (MaxRecord from
// MinMaxAttrs to MaxRecordSize, MaxAttrs from MinMaxAttrs to MaxRecord) as a
// *FieldError naming the field.
func (l Limits) Check() error {
	// MaxRecord's floor is MinMaxAttrs: below it no MaxAttrs fits
	// (MinMaxAttrs..MaxRecord), and the fault is MaxRecord's.
	if l.MaxRecord < MinMaxAttrs || l.MaxRecord > MaxRecordSize {
		return &FieldError{Field: "Limits.MaxRecord", Reason: "must be " + strconv.Itoa(MinMaxAttrs) + ".." + strconv.Itoa(MaxRecordSize)}
	}
	if l.MaxAttrs < MinMaxAttrs || l.MaxAttrs > l.MaxRecord {
		return &FieldError{Field: "Limits.MaxAttrs", Reason: "must be " + strconv.Itoa(MinMaxAttrs) + "..MaxRecord"}
	}
	return nil
}

// Hash is a 32-byte BLAKE3 output: a record hash or a dedupe key.
type Hash [32]byte

// Genesis is the prev of the first record of every chain: 32 zero bytes.
var Genesis Hash

// String returns h in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Format prints h's bytes for %x and %X (without it, fmt would print the
// hex of String's hex), and String for the other verbs.
func (h Hash) Format(f fmt.State, verb rune) {
	if verb == 'x' || verb == 'X' {
		fmt.Fprintf(f, fmt.FormatString(f, verb), [32]byte(h))
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), h.String())
}

// MarshalText encodes h as lowercase hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText parses 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	*h = p
	return err
}

// ParseHash parses 64 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 64 {
		return h, &FieldError{Field: "hash", Reason: "want 64 hex digits, got " + strconv.Itoa(len(s)) + " characters"}
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, &FieldError{Field: "hash", Reason: err.Error()}
	}
	return h, nil
}

// Hasher computes record hashes and dedupe keys without allocating. It is
// not safe for concurrent use; the package functions share a pool of them.
type Hasher struct {
	rec, dedupe *blake3.Hasher
	scratch     []byte
}

// NewHasher returns a Hasher.
func NewHasher() *Hasher {
	return &Hasher{
		rec:     blake3.NewDeriveKey(HashContext),
		dedupe:  blake3.NewDeriveKey(DedupeContext),
		scratch: make([]byte, 0, DefaultMaxRecord),
	}
}

// RecordHash returns the hash of a record from its canonical bytes.
//
//ronaudit:hot
func (h *Hasher) RecordHash(canonical []byte) (out Hash) {
	h.rec.Reset()
	_, _ = h.rec.Write(canonical)
	h.rec.Sum(out[:0])
	return out
}

// DedupeKey returns the dedupe key of r: the derive_key hash, under
// DedupeContext, of the canonical encoding of r with seq 0 and prev empty.
// The fields a chain assigns (seq, prev) are left out, so a replayed event
// gets the key of its first append; everything else, tsMs included, counts.
// Like Normalize it sets v 0 to Version and sorts r.Attrs in place; it
// leaves the rest of r unchanged. A record that breaks a rule of the format
// other than those of seq and prev has no key: the *FieldError says which;
// one over the encoder's message limit (256 MiB) is a *SizeError
// (ErrTooLarge), as from AppendRecord.
func (h *Hasher) DedupeKey(r *AuditRecord) (Hash, error) {
	normalizeContent(r)
	if err := validate(r, false); err != nil {
		return Hash{}, err
	}
	seq, prev := r.Seq, r.Prev
	r.Seq, r.Prev = 0, nil
	b, err := r.AppendCanonical(h.scratch[:0])
	if err != nil {
		// Sized as encoded, seq and prev left out.
		err = encodeError(r, err, capnpwire.MaxMessageBytes)
	}
	r.Seq, r.Prev = seq, prev
	if err != nil {
		return Hash{}, err
	}
	if cap(b) <= 4*MaxRecordSize {
		h.scratch = b[:0]
	}
	var out Hash
	h.dedupe.Reset()
	_, _ = h.dedupe.Write(b)
	h.dedupe.Sum(out[:0])
	return out, nil
}

var hashers = sync.Pool{New: func() any { return NewHasher() }}

// GetHasher takes a Hasher from the pool the package functions share (a
// Hasher holds two BLAKE3 states and a record buffer, about 24 KiB);
// PutHasher gives it back. For a caller that hashes many records in a row.
func GetHasher() *Hasher { return hashers.Get().(*Hasher) }

// PutHasher returns h, taken with GetHasher, to the pool.
func PutHasher(h *Hasher) { hashers.Put(h) }

// RecordHash returns the hash of a record from its canonical bytes: BLAKE3
// derive_key with HashContext, reproducible with
// b3sum --derive-key "ron-audit 2026-11-27 record hash v1".
func RecordHash(canonical []byte) Hash {
	h := hashers.Get().(*Hasher)
	out := h.RecordHash(canonical)
	hashers.Put(h)
	return out
}

// DedupeKey returns the dedupe key of r; see Hasher.DedupeKey.
func DedupeKey(r *AuditRecord) (Hash, error) {
	h := hashers.Get().(*Hasher)
	out, err := h.DedupeKey(r)
	hashers.Put(h)
	return out, err
}

// SignedMessage returns the bytes a record signature signs: SigPrefix
// followed by the record hash (47 bytes).
func SignedMessage(h Hash) (m [len(SigPrefix) + 32]byte) {
	copy(m[:], SigPrefix)
	copy(m[len(SigPrefix):], h[:])
	return m
}

// Sign signs the record hash h with Ed25519.
func Sign(priv ed25519.PrivateKey, h Hash) (sig [ed25519.SignatureSize]byte) {
	m := SignedMessage(h)
	copy(sig[:], ed25519.Sign(priv, m[:]))
	return sig
}

// VerifySignature reports whether sig is pub's Ed25519 signature of h.
func VerifySignature(pub ed25519.PublicKey, h Hash, sig []byte) bool {
	m := SignedMessage(h)
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, m[:], sig)
}

// Normalize brings r to its one canonical value, or says why it has none:
// v 0 becomes Version; attrs are sorted by key, bytewise, in place. It
// rejects a v other than Version, an unknown kind, an empty writerId or
// stream, seq 0, a prev that is not 32 bytes, text that is not UTF-8 or
// holds NUL, and attrs with an empty or repeated key.
func Normalize(r *AuditRecord) error {
	normalizeContent(r)
	if err := validate(r, true); err != nil {
		return err
	}
	return validateTexts(r)
}

func normalizeContent(r *AuditRecord) {
	if r.V == 0 {
		r.V = Version
	}
	if !slices.IsSortedFunc(r.Attrs, compareAttr) {
		slices.SortStableFunc(r.Attrs, compareAttr)
	}
}

// prepareAttrs is normalizeContent then AttrsSize, for AppendRecord: in
// one pass over the attrs when their keys are strictly ascending already,
// the common case, which it reports (then no key repeats, and validate
// need not look for one).
func prepareAttrs(r *AuditRecord) (unique bool, size int) {
	attrs := r.Attrs
	for i := 1; i < len(attrs); i++ {
		if !keyLess(attrs[i-1].Key, attrs[i].Key) {
			normalizeContent(r)
			return false, AttrsSize(r.Attrs)
		}
	}
	if r.V == 0 {
		r.V = Version
	}
	return true, AttrsSize(attrs)
}

// keyLess reports a < b, bytewise. Keys that differ in their first byte
// are told apart without a call to the runtime's string comparison.
func keyLess(a, b string) bool {
	if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
		return a[0] < b[0]
	}
	return a < b
}

func compareAttr(a, b Attr) int { return strings.Compare(a.Key, b.Key) }

// validate checks the rules of SPEC.md section 3 but the text ones (the
// encoder checks those); chained says whether seq and prev count, which
// they do not for a dedupe key.
func validate(r *AuditRecord, chained bool) error {
	return validateSorted(r, chained, false)
}

// validateSorted is validate, told by unique that normalizeContent found
// the attrs' keys strictly ascending, so that none repeats.
func validateSorted(r *AuditRecord, chained, unique bool) error {
	switch {
	case r.V != Version:
		return &FieldError{Field: "v", Reason: "version " + strconv.Itoa(int(r.V)) + ", this format is version " + strconv.Itoa(Version)}
	case !r.Kind.IsKnown():
		return &FieldError{Field: "kind", Reason: "unknown kind " + strconv.Itoa(int(r.Kind))}
	case chained && r.Seq == 0:
		return &FieldError{Field: "seq", Reason: "seq starts at 1"}
	case chained && len(r.Prev) != 32:
		return &FieldError{Field: "prev", Reason: "want 32 bytes, got " + strconv.Itoa(len(r.Prev))}
	case r.WriterID == "":
		return &FieldError{Field: "writerId", Reason: "required"}
	case r.Stream == "":
		return &FieldError{Field: "stream", Reason: "required"}
	}
	for i := 1; i < len(r.Attrs) && !unique; i++ {
		if r.Attrs[i-1].Key == r.Attrs[i].Key {
			return &FieldError{Field: "attrs[" + strconv.Itoa(i) + "].key", Reason: "repeated key " + strconv.Quote(r.Attrs[i].Key)}
		}
	}
	if len(r.Attrs) > 0 && r.Attrs[0].Key == "" {
		return &FieldError{Field: "attrs[0].key", Reason: "empty key"}
	}
	return nil
}

// validateTexts finds the first text that is not UTF-8 or holds NUL and
// names it precisely. The encoder checks the same while it copies, so
// AppendRecord only calls this to explain a refusal.
func validateTexts(r *AuditRecord) error {
	return eachText(r, checkText)
}

// eachText calls check with every text field of r: its name in errors,
// the attr's index (-1 outside attrs) and its value. It stops at, and
// returns, the first error. The one list of a record's texts: a field the
// schema adds is added here (TestEveryTextIsChecked fails until it is).
func eachText(r *AuditRecord, check func(field string, i int, s string) error) error {
	texts := [...]struct{ name, s string }{
		{"writerId", r.WriterID}, {"stream", r.Stream}, {"reason", r.Reason},
		{"actor.capId", r.Actor.CapID}, {"actor.keyFpr", r.Actor.KeyFpr}, {"actor.passportId", r.Actor.PassportID},
		{"subject.contentId", r.Subject.ContentID}, {"subject.ledgerTxid", r.Subject.LedgerTxid}, {"subject.name", r.Subject.Name},
	}
	for _, t := range texts {
		if err := check(t.name, -1, t.s); err != nil {
			return err
		}
	}
	for i := range r.Attrs {
		a := &r.Attrs[i]
		if err := check("attrs.key", i, a.Key); err != nil {
			return err
		}
		if err := check("attrs.value", i, a.Value); err != nil {
			return err
		}
	}
	return nil
}

// textField names text field of eachText in errors: "attrs[3].key" for
// attr i = 3.
func textField(field string, i int) string {
	if i < 0 {
		return field
	}
	f, sub, _ := strings.Cut(field, ".")
	return f + "[" + strconv.Itoa(i) + "]." + sub
}

func checkText(field string, i int, s string) error {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return nil
	}
	if strings.IndexByte(s, 0) >= 0 {
		return &FieldError{Field: textField(field, i), Reason: "text holds a NUL byte"}
	}
	return &FieldError{Field: textField(field, i), Reason: "text is not valid UTF-8"}
}

// AttrsSize returns the attrs size that Limits.MaxAttrs bounds (SPEC.md,
// section 4): a tag word, two pointer words per attr, and each non-empty
// text with its NUL, padded to 8 bytes; 0 for the empty (null) list. It is
// the list's canonical size except when every value is empty: the elements
// then have one pointer each, and the list is 8 bytes per attr smaller.
// Attrs may share their texts, so the size is not bounded by their memory;
// a size of more than 256 MiB (larger than any message) is reported as
// 256 MiB + 1, never wrapped.
func AttrsSize(attrs []Attr) int {
	if len(attrs) == 0 {
		return 0
	}
	n := 8
	for i := range attrs {
		n = capnpwire.AddSize(n, 16+capnpwire.TextSize(attrs[i].Key)+capnpwire.TextSize(attrs[i].Value))
	}
	return n
}

// AppendRecord normalizes r (see Normalize), checks it against lim and
// appends its canonical bytes to dst. It allocates only when dst lacks
// room. On error dst is returned unchanged and r may only have been
// normalized. A lim that Limits.Check refuses is refused with Check's
// error: limits above the format's would write records no reader accepts.
// A record or attrs over a limit is a *SizeError (ErrTooLarge), one too
// large for the encoder to size exactly included.
//
//ronaudit:hot
func AppendRecord(dst []byte, r *AuditRecord, lim Limits) ([]byte, error) {
	if err := lim.Check(); err != nil {
		return dst, err
	}
	unique, n := prepareAttrs(r)
	if n > lim.MaxAttrs {
		return dst, &SizeError{What: "attrs", Size: n, Limit: lim.MaxAttrs}
	}
	if err := validateSorted(r, true, unique); err != nil {
		return dst, err
	}
	start := len(dst)
	out, err := r.AppendCanonical(dst)
	if err != nil {
		return dst, encodeError(r, err, lim.MaxRecord)
	}
	if n := len(out) - start; n > lim.MaxRecord {
		return out[:start], &SizeError{What: "record", Size: n, Limit: lim.MaxRecord}
	}
	return out, nil
}

// encodeError is the error of r's encoder refusing it with err (for
// AppendRecord and DedupeKey, which validate the rest first): a text the
// format refuses (*FieldError naming it), a message over MaxMessageBytes
// (*SizeError, ErrTooLarge, against limit: the encoder refuses it with an
// EncodeError like its other refusals, but it is a size, not an invalid
// record), else the encoder's refusal. Sized on this error path only, so
// an encoding that succeeds costs nothing more.
func encodeError(r *AuditRecord, err error, limit int) error {
	if terr := validateTexts(r); terr != nil {
		return terr
	}
	if n := capnpwire.AddSize(8, r.canonSize()); n > capnpwire.MaxMessageBytes {
		return &SizeError{What: "record", Size: n, Limit: limit}
	}
	return wrapWire(err)
}

// Open checks that b is exactly the canonical bytes of a valid record of
// this format and returns a zero-copy view of it. Beyond the Cap'n Proto
// canonical form (see OpenAuditRecord) it enforces every rule Normalize
// enforces, and MaxRecordSize. It never panics and does not allocate on
// success.
func Open(b []byte) (AuditRecordView, error) {
	if len(b) > MaxRecordSize {
		return AuditRecordView{}, &SizeError{What: "record", Size: len(b), Limit: MaxRecordSize}
	}
	v, err := OpenAuditRecord(b)
	if err != nil {
		return AuditRecordView{}, wrapWire(err)
	}
	if err := validateView(v); err != nil {
		return AuditRecordView{}, err
	}
	return v, nil
}

func validateView(v AuditRecordView) error {
	switch {
	case v.V() != Version:
		return &FieldError{Field: "v", Reason: "version " + strconv.Itoa(int(v.V())) + ", this format is version " + strconv.Itoa(Version)}
	case v.Seq() == 0:
		return &FieldError{Field: "seq", Reason: "seq starts at 1"}
	case len(v.Prev()) != 32:
		return &FieldError{Field: "prev", Reason: "want 32 bytes, got " + strconv.Itoa(len(v.Prev()))}
	case len(v.WriterID()) == 0:
		return &FieldError{Field: "writerId", Reason: "required"}
	case len(v.Stream()) == 0:
		return &FieldError{Field: "stream", Reason: "required"}
	}
	attrs := v.Attrs()
	if attrs.l.AscendingTexts(0) == attrs.Len() { // Attr.key is pointer 0
		return nil
	}
	// Name the first key out of place.
	var prev []byte
	for i := 0; i < attrs.Len(); i++ {
		at := attrs.At(i)
		k := at.Key()
		if len(k) == 0 {
			return &FieldError{Field: "attrs[" + strconv.Itoa(i) + "].key", Reason: "empty key"}
		}
		if i > 0 {
			if c := bytes.Compare(prev, k); c >= 0 {
				reason := "keys out of order"
				if c == 0 {
					reason = "repeated key " + strconv.Quote(string(k))
				}
				return &FieldError{Field: "attrs[" + strconv.Itoa(i) + "].key", Reason: reason}
			}
		}
		prev = k
	}
	return nil
}
