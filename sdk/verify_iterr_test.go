package sdk_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// failingIter yields recs, then fails with err instead of the next one.
type failingIter struct {
	recs []sdk.Sealed
	i    int
	err  error
}

func (it *failingIter) Next() bool {
	if it.i >= len(it.recs) {
		return false
	}
	it.i++
	return true
}
func (it *failingIter) Entry() sdk.Sealed { return it.recs[it.i-1] }
func (it *failingIter) Err() error {
	if it.i >= len(it.recs) {
		return it.err
	}
	return nil
}

// TestVerifyChainIteratorErrorNamesPlace: an iterator that fails part way
// (a store's I/O error) ends VerifyChain with that error, not a verdict
// (no *VerifyError, no tampering sentinel), saying which chain and after
// which seq it was reading, with the records verified before it counted.
func TestVerifyChainIteratorErrorNamesPlace(t *testing.T) {
	base, keys := tamperChain(t, 1)
	ioErr := errors.New("read /var/log/x.seg: input/output error")
	for _, c := range []struct {
		name  string
		n     int
		start *sdk.Head
		want  []string
	}{
		{"mid-way", 500, nil, []string{"svc-gateway@inst-1/reads", "after seq 500", ioErr.Error()}},
		{"at once", 0, nil, []string{"first record", ioErr.Error()}},
		{"at once after a start", 0, &sdk.Head{WriterID: "svc-gateway@inst-1", Stream: "reads", Seq: 7, Hash: base[6].Hash},
			[]string{"svc-gateway@inst-1/reads", "after seq 7", ioErr.Error()}},
	} {
		res, err := sdk.VerifyChain(&failingIter{recs: base[:c.n], err: ioErr}, keys, sdk.VerifyOptions{Start: c.start, AllowUnsealedTail: true})
		var ve *sdk.VerifyError
		if !errors.Is(err, ioErr) || errors.As(err, &ve) {
			t.Fatalf("%s: %v, want the iterator's error, not a verification failure", c.name, err)
		}
		if res.Records != c.n {
			t.Errorf("%s: %d records verified, want %d", c.name, res.Records, c.n)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, err, w)
			}
		}
	}
}
