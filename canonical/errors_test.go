package canonical

import (
	"errors"
	"testing"
)

// category returns the categories err matches.
func category(err error) []error {
	var out []error
	for _, c := range []error{ErrInvalid, ErrTooLarge, ErrNotCanonical} {
		if errors.Is(err, c) {
			out = append(out, c)
		}
	}
	return out
}

// TestEveryErrorHasOneCategory: the package doc promises that every error
// of the package matches exactly one of ErrInvalid, ErrTooLarge and
// ErrNotCanonical. The generated Open* functions and AppendCanonical
// methods returned the wire runtime's *NonCanonicalError and *EncodeError
// bare, which matched none.
func TestEveryErrorHasOneCategory(t *testing.T) {
	bad := []byte{1, 2, 3} // not a multiple of 8 bytes
	notCanonical := map[string]error{}
	_, notCanonical["Open"] = Open(bad)
	_, notCanonical["OpenAuditRecord"] = OpenAuditRecord(bad)
	_, notCanonical["OpenActor"] = OpenActor(bad)
	_, notCanonical["OpenAttr"] = OpenAttr(bad)
	_, notCanonical["OpenSubject"] = OpenSubject(bad)
	for name, err := range notCanonical {
		var nc *NonCanonicalError
		if c := category(err); len(c) != 1 || c[0] != ErrNotCanonical || !errors.As(err, &nc) {
			t.Errorf("%s: %T %v matches %v, want ErrNotCanonical only, and a *NonCanonicalError", name, err, err, c)
		}
	}

	invalid := map[string]error{}
	r := minimal()
	r.Kind = 99
	_, invalid["AuditRecord.AppendCanonical"] = r.AppendCanonical(nil)
	_, invalid["AppendRecord"] = AppendRecord(nil, &r, DefaultLimits)
	_, invalid["DedupeKey"] = DedupeKey(&r)
	_, invalid["MarshalJSON"] = r.MarshalJSON()
	_, invalid["ParseHash"] = ParseHash("zz")
	invalid["Limits.Check"] = Limits{MaxRecord: 1, MaxAttrs: 1}.Check()
	invalid["UnmarshalJSON"] = new(AuditRecord).UnmarshalJSON([]byte("{"))
	for name, err := range invalid {
		if c := category(err); len(c) != 1 || c[0] != ErrInvalid {
			t.Errorf("%s: %T %v matches %v, want ErrInvalid only", name, err, err, c)
		}
	}
	var ee *EncodeError
	if !errors.As(invalid["AuditRecord.AppendCanonical"], &ee) || ee.Field != "AuditRecord.kind" {
		t.Errorf("AppendCanonical: %v is not a *EncodeError naming the field", invalid["AuditRecord.AppendCanonical"])
	}
}
