package export

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hidden are characters that must not reach a message as they are: a
// host logs err.Error() on one line, and a newline adds a line of
// someone else's making, a terminal escape or a right-to-left override
// shows the line otherwise than its bytes.
const hidden = "\n\r\x1b\u202e\u0085"

// TestErrorOneLine: the text an *Error carries from outside (a file name
// under a directory someone gave the verifier; a previous export's
// checkpoint text, read from the sink unverified) is said on one line,
// unprintable characters as Go escapes, while the fields keep it as it
// was found.
func TestErrorOneLine(t *testing.T) {
	t.Run("bundle file name", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "é dir")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		name := "x\nok: 1 bundle\u202e.bundle"
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ListDir(dir)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrBundleName) {
			t.Fatalf("ListDir: %v, want an *Error of ErrBundleName", err)
		}
		if e.Bundle != name {
			t.Errorf("Bundle %q, want the file name %q", e.Bundle, name)
		}
		msg := err.Error()
		if strings.ContainsAny(msg, hidden) || !strings.Contains(msg, `"x\nok: 1 bundle\u202e.bundle"`) || !strings.Contains(msg, "in "+dir+":") {
			t.Errorf("ListDir: %q, want one line naming the file quoted and the directory as it is", msg)
		}
	})
	t.Run("previous checkpoint text", func(t *testing.T) {
		signer := newSigner(t, 1)
		recs := genRecords(t, signer, 4, plain)
		e := &Exporter{Sink: &FileSink{Dir: t.TempDir()}, Signer: signer}
		note := []byte("ron-audit/w/s\x1b[2J\u202e\n2\r\nok: fine\n\n— sig\n")
		_, err := e.ExportTree(treeOf(recs), testWriter, testStream, recs[2:], &State{Size: 2, Note: note})
		var ee *Error
		if !errors.As(err, &ee) || ee.Reason != ReasonFork {
			t.Fatalf("ExportTree after a damaged previous note: %v, want a fork *Error", err)
		}
		if !strings.Contains(ee.Expected, "\x1b[2J\u202e") {
			t.Errorf("Expected %q: not the note's text as found", ee.Expected)
		}
		msg := err.Error()
		if strings.ContainsAny(msg, hidden) || !strings.Contains(msg, `expected ron-audit/w/s\x1b[2J\u202e\n2\r\nok: fine, got `) {
			t.Errorf("ExportTree: %q, want one line with the note's lines escaped", msg)
		}
	})
}
