// Package keyrule carries package sdk's key-continuity rule, which chains
// of a durable log a key may sign (the refusals of sdk.OpenDurable), to
// the code of this module that signs a log's chains without opening it:
// package export's Exporter.Export, and ronaudit checkpoint and export,
// which read the log beside its writer, without its lock. The rule needs
// a replay of the whole log, which only package sdk can do; it is not
// public API (package sdk sets Refusal when it is initialised, so every
// importer of sdk finds it set).
package keyrule

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
