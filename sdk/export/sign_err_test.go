package export

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// failingSigner is a Signer whose Sign fails (an HSM that went away).
type failingSigner struct {
	s   sdk.Signer
	err error
}

func (f failingSigner) KeyID() sdk.KeyID                          { return f.s.KeyID() }
func (f failingSigner) Public() ed25519.PublicKey                 { return f.s.Public() }
func (f failingSigner) Sign(msg []byte, sig *sdk.Signature) error { return f.err }

// TestExportSignErrorNamesTheChain: a Signer that fails while a bundle's
// checkpoint is signed (a remote key, under Auto the Keeper's) is the
// export's failure: it must name the chain and the size being exported
// and wrap the Signer's error, as a failure to read or write does. It
// came back as checkpoint.Sign's alone ("checkpoint: sign: signing
// checkpoint as \"ron-audit/W\": ..."), naming neither the stream nor
// the seqs, and under node.Open ("audit export stopped: checkpoint:
// sign: ...") reading like a checkpoint's failure.
func TestExportSignErrorNamesTheChain(t *testing.T) {
	signer := newSigner(t, 3)
	recs := genRecords(t, signer, 5, plain)
	hsm := errors.New("hsm unreachable")
	e := &Exporter{Sink: &memSink{}, Signer: failingSigner{signer, hsm}}
	_, err := e.ExportTree(treeOf(recs), testWriter, testStream, recs, nil)
	if !errors.Is(err, hsm) {
		t.Fatalf("ExportTree: %v; want it to wrap %v", err, hsm)
	}
	for _, want := range []string{"export", checkpoint.Origin(testWriter, testStream), "records 1..5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ExportTree's error %q does not say %q", err, want)
		}
	}
}
