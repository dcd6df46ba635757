package canonical

import (
	"errors"
	"strings"
	"testing"
)

// TestJSONErrorOneLine: a field name UnmarshalJSON does not know is the
// input's text, and a host logs err.Error() as one line: a newline in it
// would add a line of the input's making ("ok: ..."), a right-to-left
// override or a terminal escape would show the line otherwise than its
// bytes. The message spells such characters as Go escapes
// (internal/names.Line); the FieldError's Field keeps the name as given,
// and a printable name (é included) reads as itself.
func TestJSONErrorOneLine(t *testing.T) {
	for _, c := range []struct{ in, field, msg string }{
		{`{"x\nok: 3 records":1}`, "x\nok: 3 records", `canonical: x\nok: 3 records: unknown field`},
		{`{"actor":{"a\u202eb":1}}`, "actor.a\u202eb", `canonical: actor.a\u202eb: unknown field`},
		{`{"attrs":[{"k\u001b[2J\u0085":1}]}`, "attrs[0].k\x1b[2J\u0085", `canonical: attrs[0].k\x1b[2J\u0085: unknown field`},
		{`{"écrivain":1}`, "écrivain", "canonical: écrivain: unknown field"},
	} {
		var r AuditRecord
		err := r.UnmarshalJSON([]byte(c.in))
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("UnmarshalJSON(%s): %v, want a *FieldError", c.in, err)
		}
		if fe.Field != c.field {
			t.Errorf("UnmarshalJSON(%s): Field %q, want %q (the name as given)", c.in, fe.Field, c.field)
		}
		msg := err.Error()
		if msg != c.msg || strings.ContainsAny(msg, "\n\x1b\u202e\u0085") {
			t.Errorf("UnmarshalJSON(%s): %q, want %q", c.in, msg, c.msg)
		}
	}
}
