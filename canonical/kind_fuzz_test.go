package canonical

import "testing"

// FuzzParseKind: ParseKind takes a name only if it is the String of the
// Kind it returns (so one spelling per kind: no other case, no spaces,
// not "Kind(n)"), a kind the schema defines; and every kind the schema
// defines is taken back from its String. Seeds: every kind's name and
// near misses (testdata/fuzz/FuzzParseKind).
func FuzzParseKind(f *testing.F) {
	for k := Kind(0); k.IsKnown(); k++ {
		f.Add(k.String())
		if got, ok := ParseKind(k.String()); !ok || got != k {
			f.Fatalf("%v: ParseKind(%q) = %v, %v", k, k.String(), got, ok)
		}
	}
	f.Fuzz(func(t *testing.T, name string) {
		k, ok := ParseKind(name)
		if !ok {
			if k != 0 {
				t.Fatalf("%q refused but gave %v", name, k)
			}
			return
		}
		if !k.IsKnown() || k.String() != name {
			t.Fatalf("%q accepted as %v (String %q, known %v)", name, uint16(k), k.String(), k.IsKnown())
		}
	})
}
