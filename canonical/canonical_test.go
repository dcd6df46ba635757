package canonical

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/capnpwire"
)

func minimal() AuditRecord {
	return AuditRecord{Seq: 1, WriterID: "w", Stream: "s", Prev: make([]byte, 32)}
}

func TestNormalizeRejects(t *testing.T) {
	cases := map[string]struct {
		mut   func(*AuditRecord)
		field string
	}{
		"version":       {func(r *AuditRecord) { r.V = 2 }, "v"},
		"kind":          {func(r *AuditRecord) { r.Kind = 7 }, "kind"},
		"seq 0":         {func(r *AuditRecord) { r.Seq = 0 }, "seq"},
		"short prev":    {func(r *AuditRecord) { r.Prev = r.Prev[:31] }, "prev"},
		"no prev":       {func(r *AuditRecord) { r.Prev = nil }, "prev"},
		"no writer":     {func(r *AuditRecord) { r.WriterID = "" }, "writerId"},
		"no stream":     {func(r *AuditRecord) { r.Stream = "" }, "stream"},
		"bad utf8":      {func(r *AuditRecord) { r.Reason = "a\xffb" }, "reason"},
		"NUL":           {func(r *AuditRecord) { r.Subject.Name = "a\x00b" }, "subject.name"},
		"empty key":     {func(r *AuditRecord) { r.Attrs = []Attr{{Key: "", Value: "v"}} }, "attrs[0].key"},
		"repeated key":  {func(r *AuditRecord) { r.Attrs = []Attr{{"k", "1"}, {"a", ""}, {"k", "2"}} }, "attrs[2].key"},
		"bad attr utf8": {func(r *AuditRecord) { r.Attrs = []Attr{{"a", "ok"}, {"b", "\xc3"}} }, "attrs[1].value"},
	}
	for name, c := range cases {
		r := minimal()
		c.mut(&r)
		_, err := AppendRecord(nil, &r, DefaultLimits)
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want a *FieldError", name, err)
			continue
		}
		if fe.Field != c.field {
			t.Errorf("%s: field %q, want %q (%v)", name, fe.Field, c.field, err)
		}
	}
}

func TestNormalizeSortsAttrs(t *testing.T) {
	r := minimal()
	r.Attrs = []Attr{{"b", "2"}, {"a", "1"}, {"B", "0"}}
	if err := Normalize(&r); err != nil {
		t.Fatal(err)
	}
	if r.Attrs[0].Key != "B" || r.Attrs[1].Key != "a" || r.Attrs[2].Key != "b" || r.V != Version {
		t.Fatalf("not normalized: %+v", r)
	}
}

func TestLimits(t *testing.T) {
	if err := DefaultLimits.Check(); err != nil {
		t.Fatal(err)
	}
	// Each refusal names the field at fault: MaxRecord below MinMaxAttrs
	// leaves MaxAttrs no value, so it is MaxRecord's fault, not MaxAttrs'.
	for _, c := range []struct {
		l     Limits
		field string
	}{
		{Limits{MaxRecord: 4096, MaxAttrs: 255}, "Limits.MaxAttrs"},
		{Limits{MaxRecord: MaxRecordSize + 1, MaxAttrs: 1024}, "Limits.MaxRecord"},
		{Limits{MaxRecord: 512, MaxAttrs: 1024}, "Limits.MaxAttrs"},
		{Limits{MaxRecord: 300, MaxAttrs: 301}, "Limits.MaxAttrs"},
		{Limits{MaxRecord: 100, MaxAttrs: 100}, "Limits.MaxRecord"},
		{Limits{MaxRecord: MinMaxAttrs - 1, MaxAttrs: MinMaxAttrs - 1}, "Limits.MaxRecord"},
		{Limits{MaxRecord: 64, MaxAttrs: MinMaxAttrs}, "Limits.MaxRecord"},
	} {
		var fe *FieldError
		if err := c.l.Check(); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: %v, want a *FieldError naming %s", c.l, err, c.field)
		}
	}
	for _, l := range []Limits{{MaxRecord: MinMaxAttrs, MaxAttrs: MinMaxAttrs}, {MaxRecord: MaxRecordSize, MaxAttrs: MaxRecordSize}} {
		if err := l.Check(); err != nil {
			t.Errorf("%+v, at the bounds: %v", l, err)
		}
	}
	// Attrs of exactly the limit pass; one byte-step more fails.
	r := minimal()
	r.Attrs = []Attr{{Key: "k", Value: strings.Repeat("v", 1024-8-16-8-1)}} // 8 tag + 16 ptrs + 8 key + 999 value padded
	if n := AttrsSize(r.Attrs); n != 1024 {
		t.Fatalf("AttrsSize = %d", n)
	}
	if _, err := AppendRecord(nil, &r, DefaultLimits); err != nil {
		t.Fatalf("attrs at the limit: %v", err)
	}
	r.Attrs[0].Value += "v"
	dst := []byte("prefix")
	out, err := AppendRecord(dst, &r, DefaultLimits)
	var se *SizeError
	if !errors.As(err, &se) || se.What != "attrs" || se.Size != 1032 || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	if string(out) != "prefix" {
		t.Fatalf("dst changed on error: %q", out)
	}
	// A record over its limit, attrs within theirs.
	r = minimal()
	r.Reason = strings.Repeat("x", 4096)
	if _, err := AppendRecord(nil, &r, DefaultLimits); !errors.As(err, &se) || se.What != "record" {
		t.Fatalf("got %v", err)
	}
	if AttrsSize(nil) != 0 {
		t.Fatal("empty attrs take bytes")
	}
}

// TestAppendRecordLimitsBounds: AppendRecord writes only records Open
// accepts, whatever Limits it is given. It used to trust lim, so limits
// above MaxRecordSize wrote records of more than MaxRecordSize bytes, which
// Open (and every reader, SPEC.md section 4) refuses.
func TestAppendRecordLimitsBounds(t *testing.T) {
	r := minimal()
	r.Reason = strings.Repeat("x", MaxRecordSize)
	dst := []byte("prefix")
	out, err := AppendRecord(dst, &r, Limits{MaxRecord: 1 << 20, MaxAttrs: 1 << 20})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "Limits.MaxRecord" || string(out) != "prefix" {
		_, oerr := Open(out[len(dst):])
		t.Fatalf("AppendRecord: %v (wrote %d bytes; Open: %v), want a *FieldError naming Limits.MaxRecord", err, len(out)-len(dst), oerr)
	}
	// The zero Limits is no policy either: an error naming it, not "limit 0".
	r = minimal()
	if _, err := AppendRecord(nil, &r, Limits{}); !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, "Limits.") {
		t.Fatalf("zero Limits: %v, want a *FieldError naming the field", err)
	}
}

// TestAttrsSizeSaturates: 2^20 attrs sharing one 4063-byte value have an
// attrs size of 2^32+8 bytes. Where int has 32 bits (GOARCH=386) the sum
// wrapped to a negative size, under every limit.
func TestAttrsSizeSaturates(t *testing.T) {
	v := strings.Repeat("v", 4063)
	attrs := make([]Attr, 1<<20)
	for i := range attrs {
		attrs[i].Value = v
	}
	if n := AttrsSize(attrs); n <= MaxRecordSize {
		t.Fatalf("AttrsSize = %d", n)
	}
}

// TestAttrsSizeLayout pins what SPEC.md section 4 says of the attrs size:
// it is the attrs list's canonical size, except when every value is empty,
// where the elements have one pointer and the list is 8 bytes per attr
// smaller. (prev follows attrs, so the root's pointer section keeps its
// size whether attrs is null or not.)
func TestAttrsSizeLayout(t *testing.T) {
	size := func(attrs []Attr) int {
		t.Helper()
		r := minimal()
		r.Prev = make([]byte, 32)
		r.Attrs = attrs
		b, err := AppendRecord(nil, &r, Limits{MaxRecord: MaxRecordSize, MaxAttrs: MaxRecordSize})
		if err != nil {
			t.Fatal(err)
		}
		return len(b)
	}
	none := size(nil)
	for _, tc := range []struct {
		attrs []Attr
		less  int // formula minus canonical size
	}{
		{[]Attr{{Key: "a", Value: "1"}}, 0},
		{[]Attr{{Key: "a", Value: "1"}, {Key: "b", Value: ""}}, 0},
		{[]Attr{{Key: "a", Value: ""}}, 8},
		{[]Attr{{Key: "a", Value: ""}, {Key: "bbbbbbbbb", Value: ""}, {Key: "c", Value: ""}}, 24},
	} {
		got := size(tc.attrs) - none
		if want := AttrsSize(tc.attrs) - tc.less; got != want {
			t.Errorf("%v: the list takes %d bytes, want %d (AttrsSize %d)", tc.attrs, got, want, AttrsSize(tc.attrs))
		}
	}
}

// encodeRaw writes r with the generated encoder alone, skipping the
// format's rules, to make byte strings Open must refuse.
func encodeRaw(t *testing.T, r AuditRecord) []byte {
	t.Helper()
	b, err := r.AppendCanonical(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenRejectsInvalidRecords(t *testing.T) {
	cases := map[string]func(*AuditRecord){
		"v 0":       func(r *AuditRecord) { r.V = 0 },
		"v 2":       func(r *AuditRecord) { r.V = 2 },
		"seq 0":     func(r *AuditRecord) { r.Seq = 0 },
		"prev 31":   func(r *AuditRecord) { r.Prev = make([]byte, 31) },
		"no writer": func(r *AuditRecord) { r.WriterID = "" },
		"no stream": func(r *AuditRecord) { r.Stream = "" },
		"unsorted":  func(r *AuditRecord) { r.Attrs = []Attr{{"b", ""}, {"a", ""}} },
		"repeated":  func(r *AuditRecord) { r.Attrs = []Attr{{"a", "1"}, {"a", "2"}} },
		"empty key": func(r *AuditRecord) { r.Attrs = []Attr{{"", "1"}} },
	}
	for name, mut := range cases {
		r := minimal()
		r.V = Version
		mut(&r)
		_, err := Open(encodeRaw(t, r))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	r := minimal()
	r.V = Version
	if _, err := Open(encodeRaw(t, r)); err != nil {
		t.Fatalf("valid record refused: %v", err)
	}
}

func TestOpenRejectsNonCanonical(t *testing.T) {
	r := minimal()
	b, err := AppendRecord(nil, &r, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string][]byte{
		"trailing word": append(bytes.Clone(b), make([]byte, 8)...),
		"cut":           b[:len(b)-8],
		"odd length":    b[:len(b)-1],
		"kind 7":        func() []byte { m := bytes.Clone(b); m[10] = 7; return m }(),
		"padding":       func() []byte { m := bytes.Clone(b); m[len(b)-32-6] = 'x'; return m }(),
	} {
		_, err := Open(m)
		var nc *NonCanonicalError
		if !errors.Is(err, ErrNotCanonical) || !errors.As(err, &nc) {
			t.Errorf("%s: got %v, want a *NonCanonicalError", name, err)
		}
	}
	// Text that is not UTF-8 or holds NUL: the encoder refuses to write it,
	// so patch it into valid bytes.
	patch := func(old, new string) []byte {
		r := minimal()
		r.Reason = old
		b, err := AppendRecord(nil, &r, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(b, []byte(old))
		return append(append(bytes.Clone(b[:i]), new...), b[i+len(new):]...)
	}
	for name, m := range map[string][]byte{
		"surrogate": patch("abc", "\xed\xa0\x80"),
		"NUL":       patch("abc", "a\x00c"),
		"bad byte":  patch("abc", "ab\xff"),
	} {
		_, err := Open(m)
		var nc *NonCanonicalError
		if !errors.As(err, &nc) || !strings.Contains(nc.Reason, "text") {
			t.Errorf("%s: got %v", name, err)
		}
	}
	for _, s := range []string{"\xed\xa0\x80", "a\x00", "\xff"} {
		r := minimal()
		r.Reason = s
		if _, err := AppendRecord(nil, &r, DefaultLimits); !errors.Is(err, ErrInvalid) {
			t.Errorf("AppendRecord(%q): %v", s, err)
		}
	}
	if _, err := Open(make([]byte, MaxRecordSize+8)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: got %v", err)
	}
}

// TestOpenAttrsAmplification: a record whose attrs list claims 2^30-1
// empty elements in one tag word was canonical Cap'n Proto, and
// OpenAuditRecord (the generated check, without this format's rules)
// accepted it: Decode would then allocate ~32 GiB. Both opens refuse it now.
func TestOpenAttrsAmplification(t *testing.T) {
	rec := AuditRecord{V: 1, Seq: 1, WriterID: "w", Stream: "s", Prev: make([]byte, 32), Attrs: []Attr{{}}}
	b, err := rec.AppendCanonical(nil) // no Normalize: the empty key is the point
	if err != nil {
		t.Fatal(err)
	}
	tag := []byte{1 << 2, 0, 0, 0, 0, 0, 0, 0} // 1 element, no data, no pointers
	i := bytes.LastIndex(b, tag)
	if i < 0 || i%8 != 0 {
		t.Fatalf("no attrs tag in %x", b)
	}
	binary.LittleEndian.PutUint64(b[i:], uint64(uint32((1<<30-1)<<2)))
	var nc *NonCanonicalError
	if v, err := OpenAuditRecord(b); !errors.As(err, &nc) || nc.Offset != i {
		t.Errorf("OpenAuditRecord: %v (attrs %d), want a *NonCanonicalError at byte %d", err, v.Attrs().Len(), i)
	}
	if _, err := Open(b); !errors.Is(err, ErrNotCanonical) {
		t.Errorf("Open: %v, want ErrNotCanonical", err)
	}
}

// TestTamperEveryByte flips each byte of the 1 KiB vector: the result is
// refused, or it is another canonical record (then its hash differs).
func TestTamperEveryByte(t *testing.T) {
	rec := record1KiB(t)
	rec.Prev = make([]byte, 32)
	b, err := AppendRecord(nil, &rec, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	h := RecordHash(b)
	accepted := 0
	for i := range b {
		m := bytes.Clone(b)
		m[i] ^= 0x01
		v, err := Open(m)
		if err != nil {
			continue
		}
		accepted++
		d := v.Decode()
		if re, _ := d.AppendCanonical(nil); !bytes.Equal(re, m) {
			t.Fatalf("byte %d: accepted bytes that re-encode differently", i)
		}
		if RecordHash(m) == h {
			t.Fatalf("byte %d: same hash", i)
		}
	}
	if accepted == 0 || accepted == len(b) {
		t.Fatalf("accepted %d of %d flips", accepted, len(b))
	}
}

// TestHashMatchesB3sum: the record hash is plain BLAKE3 derive_key, so the
// b3sum tool reproduces it (CI installs b3sum).
func TestHashMatchesB3sum(t *testing.T) {
	if _, err := exec.LookPath("b3sum"); err != nil {
		t.Skip("b3sum not installed (Debian package b3sum)")
	}
	rec := record1KiB(t)
	rec.Prev = make([]byte, 32)
	b, err := AppendRecord(nil, &rec, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "record.bin")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("b3sum", "--no-names", "--derive-key", HashContext, path).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), RecordHash(b).String(); got != want {
		t.Fatalf("b3sum %s, RecordHash %s", got, want)
	}
}

// TestDedupeKeyRefusesInvalid: a dedupe key is the hash of a record's
// canonical bytes with seq 0 and prev null (SPEC.md section 5), so a
// record that breaks another rule of section 3 has none. DedupeKey used to
// hash whatever AppendCanonical wrote: v 2, an empty writerId or stream,
// repeated or empty attr keys all got a key no record can have.
func TestDedupeKeyRefusesInvalid(t *testing.T) {
	cases := map[string]struct {
		mut   func(*AuditRecord)
		field string
	}{
		"version":      {func(r *AuditRecord) { r.V = 2 }, "v"},
		"kind":         {func(r *AuditRecord) { r.Kind = 7 }, "kind"},
		"no writer":    {func(r *AuditRecord) { r.WriterID = "" }, "writerId"},
		"no stream":    {func(r *AuditRecord) { r.Stream = "" }, "stream"},
		"repeated key": {func(r *AuditRecord) { r.Attrs = []Attr{{"a", "1"}, {"a", "2"}} }, "attrs[1].key"},
		"empty key":    {func(r *AuditRecord) { r.Attrs = []Attr{{"", "1"}} }, "attrs[0].key"},
		"bad text":     {func(r *AuditRecord) { r.Reason = "\xff" }, "reason"},
		"nul in a key": {func(r *AuditRecord) { r.Attrs = []Attr{{"a\x00", "1"}} }, "attrs[0].key"},
	}
	for name, c := range cases {
		r := minimal()
		c.mut(&r)
		_, err := DedupeKey(&r)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want a *FieldError for %s", name, err, c.field)
		}
	}
	// seq and prev are not part of the key: any value goes.
	r := minimal()
	r.Seq, r.Prev = 0, nil
	if _, err := DedupeKey(&r); err != nil {
		t.Errorf("seq 0, no prev: %v", err)
	}
}

func TestDedupeKey(t *testing.T) {
	a := minimal()
	a.TsMs, a.Reason = 5, "x"
	a.Attrs = []Attr{{"b", "2"}, {"a", "1"}}
	b := a
	b.Seq, b.Prev = 99, bytes.Repeat([]byte{1}, 32)
	b.Attrs = []Attr{{"a", "1"}, {"b", "2"}}
	ka, err := DedupeKey(&a)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := DedupeKey(&b)
	if ka != kb {
		t.Fatal("dedupe key depends on seq, prev or attr order")
	}
	if a.Seq != 1 || len(a.Prev) != 32 {
		t.Fatal("DedupeKey changed seq or prev")
	}
	c := a
	c.TsMs = 6
	if kc, _ := DedupeKey(&c); kc == ka {
		t.Fatal("dedupe key ignores tsMs")
	}
	raw, _ := a.AppendCanonical(nil)
	if RecordHash(raw) == ka {
		t.Fatal("dedupe key not domain-separated from the record hash")
	}
}

func TestSignature(t *testing.T) {
	key := vectorKey()
	h := RecordHash([]byte("x"))
	sig := Sign(key, h)
	pub := key.Public().(ed25519.PublicKey)
	if !VerifySignature(pub, h, sig[:]) {
		t.Fatal("own signature refused")
	}
	m := SignedMessage(h)
	if len(m) != 47 || string(m[:15]) != SigPrefix {
		t.Fatalf("signed message %x", m)
	}
	if ed25519.Verify(pub, h[:], sig[:]) {
		t.Fatal("signature also valid over the bare hash: no domain separation")
	}
	h[0] ^= 1
	if VerifySignature(pub, h, sig[:]) || VerifySignature(pub[:31], h, sig[:]) {
		t.Fatal("bad signature accepted")
	}
}

func TestHashText(t *testing.T) {
	h := RecordHash(nil)
	b, _ := h.MarshalText()
	var g Hash
	if err := g.UnmarshalText(b); err != nil || g != h {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "00", strings.Repeat("g", 64)} {
		if _, err := ParseHash(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseHash(%q) = %v", bad, err)
		}
	}
}

func TestJSON(t *testing.T) {
	rec := record1KiB(t)
	rec.V, rec.Prev = Version, make([]byte, 32)
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var back AuditRecord
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip\n%s\n%s", b, b2)
	}
	for _, bad := range []string{`{"kind":"nope"}`, `{"extra":1}`, `{"prev":"zz"}`, `{"v":1} {"v":1}`} {
		var r AuditRecord
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestJSONText: text that is not UTF-8 is refused, never replaced with
// U+FFFD (encoding/json's default), and error messages speak of the
// record's fields, not of the decoder's types.
func TestJSONText(t *testing.T) {
	for _, bad := range []string{
		"{\"reason\":\"bad\xff\xfe\"}",
		`{"reason":"\ud800"}`,
		`{"reason":"x\udc00y"}`,
		`{"reason":"\ud800\u0041"}`,
		`{"attrs":[{"key":"k","value":"\udbff"}]}`,
	} {
		var r AuditRecord
		err := r.UnmarshalJSON([]byte(bad))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("%q: %v (reason %q)", bad, err, r.Reason)
		}
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("json.Unmarshal(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{
		`{"reason":"\ud83d\ude00 \u00e9 \\ud800 \"q\""}`: "😀 é \\ud800 \"q\"",
		`{"reason":"\u0041\\"}`:                          "A\\",
	} {
		var r AuditRecord
		if err := r.UnmarshalJSON([]byte(in)); err != nil || r.Reason != want {
			t.Errorf("%s: %q, %v; want %q", in, r.Reason, err, want)
		}
	}
	for in, want := range map[string]string{
		`{"kind":1}`:                            "canonical: kind: want a JSON string, got a number",
		`{"extra":1}`:                           "canonical: extra: unknown field",
		`{"actor":{"x":1}}`:                     "canonical: actor.x: unknown field",
		`{"attrs":[{"key":"a"},{"Value":"b"}]}`: `canonical: attrs[1].Value: unknown field; the rendering spells it "value"`,
		`{"WriterID":"w"}`:                      `canonical: WriterID: unknown field; the rendering spells it "writerId"`,
		`{"writerId":"honest","writerId":"x"}`:  "canonical: writerId: given twice",
		`{"subject":{"name":"a","name":"b"}}`:   "canonical: subject.name: given twice",
		`{"reason":"r"}}`:                       "canonical: json: data after the record",
		`{"reason":"r"}]`:                       "canonical: json: data after the record",
		`{"reason":"r"} {}`:                     "canonical: json: data after the record",
		`["reason"]`:                            "canonical: json: want a JSON object",
		`{"reason":"r"`:                         "canonical: json: unexpected end of JSON input",
		`{"reason":`:                            "canonical: json: unexpected end of JSON input",
		`{"attrs":[{"key":"a"`:                  "canonical: json: unexpected end of JSON input",
		`{`:                                     "canonical: json: unexpected end of JSON input",
		`{"attrs":[1]}`:                         "canonical: attrs: want a JSON object, got a number",
		`{"seq":-1}`:                            "canonical: seq: want an integer from 0 to 18446744073709551615, got number -1",
		`{"tsMs":18446744073709551616}`:         "canonical: tsMs: want an integer from 0 to 18446744073709551615, got number 18446744073709551616",
		`{"tsMs":1.5}`:                          "canonical: tsMs: want an integer from 0 to 18446744073709551615, got number 1.5",
		`{"v":65536}`:                           "canonical: v: want an integer from 0 to 65535, got number 65536",
		`{"seq":"1"}`:                           "canonical: seq: want a JSON number, got a string",
		`{"actor":{"capId":"c","anon":true},"v":1}`: "",
	} {
		var r AuditRecord
		err := r.UnmarshalJSON([]byte(in))
		if got := fmt.Sprint(err); want == "" && err != nil || want != "" && got != want {
			t.Errorf("%s: %v, want %s", in, err, want)
		}
	}
}

func TestKind(t *testing.T) {
	if KindQuotaReject.String() != "quotaReject" || Kind(9).String() != "Kind(9)" || Kind(9).IsKnown() {
		t.Fatal("Kind names")
	}
	if k, ok := ParseKind("capRevoked"); !ok || k != KindCapRevoked {
		t.Fatal("ParseKind")
	}
}

// TestHashFormat: %x prints the hash's bytes, as String does, not the hex
// of that string; %s and %v print String.
func TestHashFormat(t *testing.T) {
	h := Hash{0xab, 0x01}
	s := h.String()
	for verb, want := range map[string]string{"%x": s, "%X": strings.ToUpper(s), "%s": s, "%v": s, "%q": `"` + s + `"`, "%.4s": s[:4]} {
		if got := fmt.Sprintf(verb, h); got != want {
			t.Errorf("Sprintf(%q) = %q, want %q", verb, got, want)
		}
	}
}

// TestAppendRecordOverMessageLimit: a record over the encoder's message
// limit (MaxMessageBytes, where sizes saturate) is too large, not invalid,
// and since its exact size is not computed the error says "over" that
// limit. Attrs that saturate AttrsSize say the same. One 64 MiB text shared
// by five fields makes a 320 MiB record from 64 MiB of memory.
func TestAppendRecordOverMessageLimit(t *testing.T) {
	big := strings.Repeat("x", 1<<26)
	over := "over " + strconv.Itoa(capnpwire.MaxMessageBytes) + " "
	r := minimal()
	r.WriterID, r.Stream, r.Reason, r.Actor.CapID, r.Actor.KeyFpr = big, big, big, big, big
	dst := []byte("prefix")
	out, err := AppendRecord(dst, &r, DefaultLimits)
	var se *SizeError
	if !errors.As(err, &se) || se.What != "record" || !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), over) || string(out) != "prefix" {
		t.Errorf("record of 320 MiB: %v (%T), dst %.10q; want a *SizeError (ErrTooLarge) for the record saying %q", err, err, out, over)
	}
	r = minimal()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		r.Attrs = append(r.Attrs, Attr{Key: k, Value: big})
	}
	_, err = AppendRecord(nil, &r, DefaultLimits)
	if !errors.As(err, &se) || se.What != "attrs" || !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), over) {
		t.Errorf("attrs of 320 MiB: %v; want a *SizeError (ErrTooLarge) for attrs saying %q", err, over)
	}
}

// TestDedupeKeyOverMessageLimit: DedupeKey calls a record over the
// encoder's message limit too large (ErrTooLarge), as AppendRecord does,
// not invalid: the same record had one category from AppendRecord and
// another from DedupeKey.
func TestDedupeKeyOverMessageLimit(t *testing.T) {
	big := strings.Repeat("x", 1<<26)
	r := minimal()
	r.WriterID, r.Stream, r.Reason, r.Actor.CapID, r.Actor.KeyFpr = big, big, big, big, big
	seq, prev := r.Seq, r.Prev
	_, err := DedupeKey(&r)
	var se *SizeError
	if !errors.As(err, &se) || se.What != "record" || !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrInvalid) {
		t.Errorf("dedupe key of a 320 MiB record: %v (%T); want a *SizeError (ErrTooLarge) for the record", err, err)
	}
	if r.Seq != seq || !bytes.Equal(r.Prev, prev) {
		t.Errorf("DedupeKey left seq %d prev %x, want them restored (%d, %x)", r.Seq, r.Prev, seq, prev)
	}
}
