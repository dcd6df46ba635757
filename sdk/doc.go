// Package sdk is the API services embed to write and verify ron-audit
// trails: append (canonicalize, BLAKE3, chain, Ed25519 sign), verify
// (canonical bytes, self-hash, chain link, signature, sequence), bounds,
// dedupe, an in-memory store for Micronode (amnesia: nothing touches disk),
// privacy helpers for attrs, and a merge iterator over streams.
//
// Bounds are checked before any state changes: a record's size (package
// canonical's limits) and, the SDK's own, a writerId or stream of at most
// MaxChainName bytes once escaped as its chain's directory name (see
// ChainNameError), so that every chain can be checkpointed and exported.
//
// Hosts on a request path use an Emitter in front of the Log: a bounded
// queue that sheds instead of blocking, parallel signing that keeps every
// chain in order, and counts of every record it does not append.
//
// A durable log kept with its evidence (Macronode) is opened with
// package sdk/node: node.Open wires OpenDurable, a checkpoint.Keeper as
// the Log's Observer, an optional export.Auto, the Keeper's ticker and
// the metrics, and its Close closes them in order.
//
// The bytes, hashes and signatures are those of package canonical
// (canonical/SPEC.md); this package adds chains, keys and policy.
//
// Amnesia is checked statically: TestMicronodeAmnesia (tools/analyzers)
// finds every function a Micronode program can reach (the Log on a
// MemStore, both signing policies, privacy, verification, merge, the
// Emitter) and fails if one is in the durable packages or calls an os
// function that creates, writes or removes a file. Only the functions
// that take a path (OpenDurable, VerifyDir, LoadSigner, LoadSalt, ...)
// touch disk.
package sdk
