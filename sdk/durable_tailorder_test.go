package sdk_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestVerifyDirUnsealedTailsInOrder: of several chains with an unsealed
// tail, VerifyDir, VerifySegment and their Summary.Heads name them in
// the same order every time (by writer, then stream, as
// checkpoint.VerifyDir and ronaudit do): the failure reported is the
// same on every run, not whichever chain a map yields first.
func TestVerifyDirUnsealedTailsInOrder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	l, _ := durableOpen(t, dir, sdk.Config{SealEvery: 5}, sdk.DurableOptions{})
	streams := []string{"d", "b", "a", "c", "e"}
	for i := range 7 { // signed at 5; tails 6, 7
		for _, s := range streams {
			r := coreRecord(i)
			r.Stream = s
			if _, err := l.Append(&r); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The log as a writer that crashed leaves it: Close would seal.
	crashed := filepath.Join(t.TempDir(), "crashed")
	if err := os.Mkdir(crashed, 0o700); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(segs) != 1 { // VerifySegment reads the one
		t.Fatal(segs, err)
	}
	for _, s := range segs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crashed, filepath.Base(s)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	keys := sdk.NewKeySet(coreSigner(t).Public())
	for run := range 20 {
		for name, verify := range map[string]func() (sdk.Summary, error){
			"VerifyDir": func() (sdk.Summary, error) { return sdk.VerifyDir(crashed, keys, false, nil) },
			"VerifySegment": func() (sdk.Summary, error) {
				return sdk.VerifySegment(filepath.Join(crashed, filepath.Base(segs[0])), keys, false, nil)
			},
		} {
			sum, err := verify()
			var ve *sdk.VerifyError
			if !errors.As(err, &ve) || ve.Reason != sdk.ReasonUnsealedTail || ve.Stream != "a" || ve.Seq != 6 || ve.Verified != 5 {
				t.Fatalf("%s, run %d: %v, want the unsealed tail of stream a at seq 6", name, run, err)
			}
			var got []string
			for _, h := range sum.Heads {
				got = append(got, h.Stream)
			}
			if !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
				t.Fatalf("%s, run %d: Summary.Heads in order %v, want a..e", name, run, got)
			}
		}
	}
}
