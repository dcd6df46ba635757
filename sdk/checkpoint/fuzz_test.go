package checkpoint

import (
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// FuzzOpenCheckpoint: Open never panics, every error is an *Error, and
// what it accepts is exactly a checkpoint text Sign would write for the
// values it returns. The seed corpus (testdata/fuzz/FuzzOpenCheckpoint)
// holds valid checkpoints and the refused cases of TestOpenRefuses; the
// fuzzer can sign nothing, so mutations mostly exercise the refusals.
func FuzzOpenCheckpoint(f *testing.F) {
	s := testSigner(f, "ron-audit checkpoint vectors v1")
	vs := testVerifiers(f, s, testKeyName)
	good, err := Sign(Origin("svc-index@inst-2", "index"), 7, testRoot(), NewNoteSigner(s, testKeyName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Fuzz(func(t *testing.T, msg []byte) {
		cp, err := Open(msg, vs)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || reasonErrs[e.Reason] == nil {
				t.Fatalf("error %v (%T) is not an *Error with a known reason", err, err)
			}
			return
		}
		if cp.Note == nil || cp.Note.Text != Text(cp.Origin, cp.Size, cp.Root) {
			t.Fatalf("accepted a text that is not Text(values): %q", cp.Note.Text)
		}
		if Origin(cp.WriterID, cp.Stream) != cp.Origin {
			t.Fatalf("origin %q does not round-trip", cp.Origin)
		}
		if _, err := note.Open(msg, vs); err != nil {
			t.Fatalf("Open accepted what note.Open refuses: %v", err)
		}
	})
}
