package checkpoint

import (
	"github.com/rustyonions/ron-audit-go/internal/chaindir"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// chainNameErr is the *DirError of chain (writer, stream) when a name of
// it is too long to be its directory under cpDir (the checkpoints
// directory): over sdk.MaxChainName once escaped, which the SDK refuses
// now but a log written before may hold. No checkpoint of it can be
// kept, so none is looked for (the file system said only "file name too
// long", and the whole log failed with it). Nil for any other chain.
func chainNameErr(cpDir, writer, stream string) error {
	field, n := "writerId", chaindir.NameLen(writer)
	if n <= sdk.MaxChainName {
		field, n = "stream", chaindir.NameLen(stream)
		if n <= sdk.MaxChainName {
			return nil
		}
	}
	return &DirError{WriterID: writer, Stream: stream, Path: cpDir,
		Err: &sdk.ChainNameError{Field: field, Len: n, Limit: sdk.MaxChainName}}
}
