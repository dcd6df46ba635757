// Package keyrule carries package sdk's key-continuity rule, which chains
// of a durable log a key may sign (the refusals of sdk.OpenDurable), to
// the code of this module that signs a log's chains without opening it:
// package export's Exporter.Export, and ronaudit checkpoint and export,
// which read the log beside its writer, without its lock. The rule needs
// a replay of the whole log, which only package sdk can do; it is not
// public API (package sdk sets Refusal when it is initialised, so every
// importer of sdk finds it set). It also carries back to package sdk what
// only package checkpoint knows of that rule (KeptHolders, of a running
// Keeper, and KeptHolder, of the checkpoints kept with a log): which key
// holds a checkpoint-sealed chain, whose records no signature claims.
package keyrule

import "crypto/ed25519"

// Refusal returns nil when key pub may sign chain (writer, stream) of
// the durable log in dir, else the error (matching sdk.ErrConfig) that
// Log.Append of the log opened with that key (and a checkpoint.Keeper
// kept in dir/checkpoints, pubs as DurableOptions.Keys) gives: the chain
// is held by another key that no transition in the log hands on to pub
// (a later key started it, a rotation to pub cut short has not reached
// it, or pub is a key the log never named), or, checkpoint-sealed, its
// newest checkpoint kept in dir/checkpoints is signed by such a key
// (KeptHolder). It reads the log and that checkpoint without verifying
// them (the caller verifies the chain), and a chain the log does not
// hold is pub's to start. An error reading the log, or the checkpoints
// kept with it, is returned as it is.
var Refusal func(dir string, pub ed25519.PublicKey, pubs []ed25519.PublicKey, writer, stream string) error

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
// pubs signed its newest checkpoint; it returns nil for any other
// observer. It is package sdk's way to learn of chains whose records no
// signature in the log claims for a key: OpenDurable refuses appends to
// them as to the chains its refusals find. Package checkpoint sets it
// when it is initialised (every log with a Keeper links it); nil means
// no Keeper can be in use.
var KeptHolders func(observer any, pubs []ed25519.PublicKey) []Sealed

// KeptHolder is the Keeper's rule (KeptHolders) for a log read without a
// Keeper (Refusal): it reads the newest checkpoint of chain (writer,
// stream) kept with the durable log in dir (dir/checkpoints, where
// node.Open and ronaudit append keep them) and reports, ok, the chain
// Sealed by another key than own, given retired, the seqs at which the
// chain's transitions retired keys (by key id). A chain with no kept
// checkpoint is not. An error reading the checkpoints is returned. Package
// checkpoint sets it when it is initialised; nil means nothing in this
// program can have kept one.
var KeptHolder func(dir string, own ed25519.PublicKey, pubs []ed25519.PublicKey, writer, stream string, retired map[[8]byte]uint64) (s Sealed, ok bool, err error)
