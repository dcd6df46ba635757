package canonical

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestOpenAttrOrderAgrees: Open refuses attrs exactly when a key is empty
// or not bytewise greater than the one before, naming that key, for keys
// that share their first word or not, shorter and longer than a word,
// with NUL-free bytes at the edges (0x01, 0x7f, 0x80, 0xff), in every
// order AppendCanonical writes them (it does not sort). Open first
// compares the keys' first words (capnpwire.List.AscendingTexts).
func TestOpenAttrOrderAgrees(t *testing.T) {
	keys := []string{"", "a", "a\x01", "ab", "abcdefg", "abcdefgh", "abcdefgh\x01", "abcdefghi", "abcdefgi",
		"abcdefgh\xff", "\x01", "\x7f", "\x80\x80", "\xc3\xa9", "\xff\xff\xff\xff\xff\xff\xff\xff\xff", "b"}
	r := newRand(3)
	base := validRecord(r)
	checked := 0
	for round := 0; round < 4000; round++ {
		rec := base
		rec.Attrs = nil
		for n := r.R.IntN(5); n > 0; n-- {
			rec.Attrs = append(rec.Attrs, Attr{Key: keys[r.R.IntN(len(keys))], Value: "v"})
		}
		if !utf8Keys(rec.Attrs) {
			continue // AppendCanonical refuses these
		}
		b, err := rec.AppendCanonical(nil)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		for i, a := range rec.Attrs {
			if a.Key == "" || i > 0 && bytes.Compare([]byte(rec.Attrs[i-1].Key), []byte(a.Key)) >= 0 {
				want = "attrs[" + strconv.Itoa(i) + "].key"
				break
			}
		}
		_, err = Open(b)
		var fe *FieldError
		switch {
		case want == "" && err != nil:
			t.Fatalf("keys %q: Open refused them: %v", keyList(rec.Attrs), err)
		case want != "" && (!errors.As(err, &fe) || fe.Field != want):
			t.Fatalf("keys %q: Open returned %v, want a FieldError on %s", keyList(rec.Attrs), err, want)
		}
		checked++
	}
	if checked < 1000 {
		t.Fatalf("only %d records checked", checked)
	}
}

func utf8Keys(attrs []Attr) bool {
	for _, a := range attrs {
		if checkText("attrs.key", 0, a.Key) != nil {
			return false
		}
	}
	return true
}

func keyList(attrs []Attr) []string {
	var ks []string
	for _, a := range attrs {
		ks = append(ks, a.Key)
	}
	return ks
}

// TestAttrKeySlot: validateView reads the keys as pointer 0 of Attr.
func TestAttrKeySlot(t *testing.T) {
	if f := attrLayout.Ptrs[0].Field; f != "Attr.key" {
		t.Fatalf("Attr's pointer 0 is %s; validateView's AscendingTexts(0) reads it as the key", f)
	}
}

// TestAppendRecordAttrsAgree: AppendRecord, which checks the attrs' order,
// repetition and size in one pass when their keys are strictly ascending
// (prepareAttrs), returns the same bytes and error as normalizing, sizing
// and validating them in separate passes, and leaves the attrs in the
// same order, for keys in any order, repeated, empty, sharing their first
// byte or not (0x80 and above included), under a tight attrs limit too.
func TestAppendRecordAttrsAgree(t *testing.T) {
	keys := []string{"", "a", "a", "ab", "b", "ba", "\x01", "\x7f", "\x80", "\xc3\xa9", "\xc3\xa8z", "\xff"}
	r := newRand(5)
	base := validRecord(r)
	base.V = 0
	lims := []Limits{DefaultLimits, {MaxRecord: DefaultMaxRecord, MaxAttrs: MinMaxAttrs}}
	checked := 0
	for round := 0; round < 4000; round++ {
		var attrs []Attr
		for n := r.R.IntN(6); n > 0; n-- {
			attrs = append(attrs, Attr{Key: keys[r.R.IntN(len(keys))], Value: strings.Repeat("v", r.R.IntN(40))})
		}
		lim := lims[round%2]
		got, want := base, base
		got.Attrs, want.Attrs = slices.Clone(attrs), slices.Clone(attrs)
		b, err := AppendRecord(nil, &got, lim)

		var wb []byte
		var werr error
		normalizeContent(&want)
		if n := AttrsSize(want.Attrs); n > lim.MaxAttrs {
			werr = &SizeError{What: "attrs", Size: n, Limit: lim.MaxAttrs}
		} else if werr = validate(&want, true); werr == nil {
			wb, werr = want.AppendCanonical(nil)
			if werr != nil {
				werr = encodeError(&want, werr, lim.MaxRecord)
			}
		}
		if fmt.Sprint(err) != fmt.Sprint(werr) || !bytes.Equal(b, wb) || !slices.Equal(got.Attrs, want.Attrs) || got.V != want.V {
			t.Fatalf("attrs %q: AppendRecord %v, %x, attrs %q; separate passes %v, %x, attrs %q", attrs, err, b, got.Attrs, werr, wb, want.Attrs)
		}
		checked++
	}
	if checked < 4000 {
		t.Fatalf("only %d records checked", checked)
	}
}
