package export

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// lyingSigner is a Signer whose KeyID is not the id of its Public key.
type lyingSigner struct {
	sdk.Signer
	id sdk.KeyID
}

func (s lyingSigner) KeyID() sdk.KeyID { return s.id }

// TestExportRefusesKeyIDMismatch: Export checks the chain did not retire
// its Signer by KeyID, and signs with Public: a Signer whose two disagree
// could sign with a retired key. Export and ExportTree refuse it,
// ErrConfig naming both ids, before anything is signed or written.
func TestExportRefusesKeyIDMismatch(t *testing.T) {
	good := newSigner(t, 1)
	dir := filepath.Join(t.TempDir(), "wal")
	durableLog(t, dir, good, 3)
	// Claims a fresh id but holds good's key.
	liar := lyingSigner{Signer: good, id: newSigner(t, 2).KeyID()}
	sink := &memSink{}
	e := &Exporter{Sink: sink, Signer: liar}
	_, err := e.Export(dir, testWriter, testStream, nil)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, sdk.ErrConfig) {
			t.Errorf("%s with a Signer whose KeyID is not its Public key's: %v, want ErrConfig", what, err)
			return
		}
		for _, id := range []sdk.KeyID{liar.KeyID(), sdk.KeyIDOf(liar.Public())} {
			if !strings.Contains(err.Error(), id.String()) {
				t.Errorf("%s: %q does not name key id %s", what, err, id)
			}
		}
	}
	check("Export", err)
	recs := genRecords(t, good, 3, plain)
	_, err = e.ExportTree(treeOf(recs), testWriter, testStream, recs, nil)
	check("ExportTree", err)
	if len(sink.names) != 0 {
		t.Errorf("refused exports wrote bundles %q", sink.names)
	}
}
