// Package keyrule carries package sdk's key-continuity rule, which chains
// of a durable log a key may sign (the refusals of sdk.OpenDurable), to
// the code of this module that signs a log's chains without opening it:
// package export's Exporter.Export, and ronaudit checkpoint and export,
// which read the log beside its writer, without its lock. The rule needs
// a replay of the whole log, which only package sdk can do; it is not
// public API (package sdk sets Refusal when it is initialised, so every
// importer of sdk finds it set). It also carries back to package sdk what
// only a checkpoint.Keeper knows of that rule (KeptHolders): which key
// holds a checkpoint-sealed chain, whose records no signature claims.
package keyrule

import "crypto/ed25519"

// Refusal returns nil when key id (an sdk.KeyID) may sign chain (writer,
// stream) of the durable log in dir, else the error (matching
// sdk.ErrConfig) that Log.Append of the log opened with that key gives:
// the chain is held by another key that no transition in the log hands
// on to id (a later key started it, a rotation to id cut short has not
// reached it, or id is a key the log never named). It reads the log
// without verifying it (the caller verifies the chain), and a chain the
// log does not hold is id's to start. An error reading the log is
// returned as it is.
var Refusal func(dir string, id [8]byte, writer, stream string) error

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
