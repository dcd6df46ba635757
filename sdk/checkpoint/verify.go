package checkpoint

import (
	"encoding/base64"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/internal/merkle"
)

// emptyRoot is the root of the empty tree, SHA-256 of no bytes.
var emptyRoot = merkle.EmptyRoot

// VerifyInclusion checks that the record with record hash recordHash is
// leaf index (seq index+1) of the tree of checkpoint cp, using the
// inclusion proof proof (Tree.InclusionProof of index at cp.Size). It
// needs nothing but cp, which should come from Open. Errors are an *Error:
// ReasonRange for an index outside [0, cp.Size), ReasonNotIncluded when
// the proof fails (tlog's error is its Err).
func VerifyInclusion(cp Checkpoint, index int64, recordHash [32]byte, proof tlog.RecordProof) error {
	if index < 0 || index >= cp.Size {
		return newErr(ReasonRange, "leaf "+strconv.FormatInt(index, 10)+" not in checkpoint of "+strconv.FormatInt(cp.Size, 10)+" records of "+quote(cp.Origin), nil)
	}
	if err := tlog.CheckRecord(proof, cp.Size, cp.Root, index, LeafHash(recordHash)); err != nil {
		return newErr(ReasonNotIncluded, "leaf "+strconv.FormatInt(index, 10)+" in checkpoint "+quote(cp.Origin)+" size "+strconv.FormatInt(cp.Size, 10), err)
	}
	return nil
}

// VerifyConsistency checks that checkpoint newer extends checkpoint old:
// the tree of old is a prefix of the tree of newer, using the consistency
// proof proof (Tree.ConsistencyProof(old.Size, newer.Size)). Both should
// come from Open. Errors are an *Error:
//
//   - ReasonOriginMismatch: the checkpoints are of different chains;
//   - ReasonRollback: newer.Size < old.Size, the log was cut or rolled
//     back;
//   - ReasonFork: the proof does not show newer extending old (for equal
//     sizes: the roots differ; from size 0: old's root is not the empty
//     tree's or the proof is not empty). Two signed checkpoints and a
//     correct proof never give it: either the log forked (history was
//     rewritten) or the proof is wrong. tlog's error is its Err.
func VerifyConsistency(old, newer Checkpoint, proof tlog.TreeProof) error {
	if old.Origin != newer.Origin {
		return newErr(ReasonOriginMismatch, "checkpoints of "+quote(old.Origin)+" and "+quote(newer.Origin), nil)
	}
	sizes := strconv.FormatInt(old.Size, 10) + " -> " + strconv.FormatInt(newer.Size, 10)
	if newer.Size < old.Size {
		return newErr(ReasonRollback, quote(old.Origin)+" tree size "+sizes, nil)
	}
	if old.Size == 0 {
		if old.Root != emptyRoot || newer.Size == 0 && newer.Root != emptyRoot || len(proof) != 0 {
			return newErr(ReasonFork, quote(old.Origin)+" tree size "+sizes+": size 0 needs the empty tree's root "+
				base64.StdEncoding.EncodeToString(emptyRoot[:])+" and an empty proof", nil)
		}
		return nil
	}
	if err := tlog.CheckTree(proof, newer.Size, newer.Root, old.Size, old.Root); err != nil {
		return newErr(ReasonFork, quote(old.Origin)+" tree size "+sizes, err)
	}
	return nil
}
