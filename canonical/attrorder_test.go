package canonical

import (
	"bytes"
	"errors"
	"strconv"
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
