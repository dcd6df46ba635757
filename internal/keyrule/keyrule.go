// Package keyrule carries back to package sdk, which cannot import
// package checkpoint, what only a checkpoint.Keeper knows of the
// key-continuity rule (which chains of a durable log a key may sign: the
// refusals of sdk.OpenDurable and sdk.MaySign): which key holds a
// checkpoint-sealed chain, whose records no signature claims
// (KeptHolders, of a running Keeper; KeptHolder, of the checkpoints kept
// with a log). Package checkpoint sets both when it is initialised.
package keyrule

import "crypto/ed25519"

// Sealed is a chain of a checkpoint-sealed log whose newest kept
// checkpoint is signed by another key than the one its Keeper signs
// with, where that key is in force (no transition of the chain at or
// after the checkpoint's size hands it on): a key that no transition in
// the log hands on to the Keeper's holds the chain (KeptHolders).
type Sealed struct {
	Writer, Stream string
	Path           string  // the newest kept checkpoint
	Size           uint64  // its size: the records it seals
	Key            [8]byte // the key of pubs that signed it (an sdk.KeyID), if Known
	Known          bool
}

// KeptHolders returns, for observer a checkpoint.Keeper (or a type
// embedding one) whose CheckReplay has run, the chains it found held by
// another key than its own (Sealed), naming each one's key when one of
// pubs signed its newest checkpoint, and keeper true; for any other
// observer it returns nil and false, and sdk.OpenDurable reads the
// checkpoints kept with the log itself (KeptHolder). It is package sdk's
// way to learn of chains whose records no signature in the log claims
// for a key: OpenDurable refuses appends to them as to the chains its
// refusals find. Package checkpoint sets it when it is initialised
// (every log with a Keeper links it); nil means no Keeper can be in use.
var KeptHolders func(observer any, pubs []ed25519.PublicKey) (held []Sealed, keeper bool)

// KeptHolder is the Keeper's rule (KeptHolders) for a log read without a
// Keeper (sdk.MaySign, and sdk.OpenDurable with no Keeper as Observer):
// it reads the newest checkpoint of chain (writer,
// stream) kept with the durable log in dir (dir/checkpoints, where
// node.Open and ronaudit append keep them) and reports, ok, the chain
// Sealed by another key than own, given retired, the seqs at which the
// chain's transitions retired keys (by key id). A chain with no kept
// checkpoint is not. An error reading the checkpoints is returned, and so
// is a newest checkpoint, where own is in force, that is damaged rather
// than another key's (a *checkpoint.DirError naming it: a signature by
// own that does not verify, own's signature line with its key name or
// hash damaged, a note that does not parse), as the Keeper refuses it. Package
// checkpoint sets it when it is initialised; nil means nothing in this
// program can have kept one.
var KeptHolder func(dir string, own ed25519.PublicKey, pubs []ed25519.PublicKey, writer, stream string, retired map[[8]byte]uint64) (s Sealed, ok bool, err error)
