package checkpoint

import (
	"crypto/sha256"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// Independent RFC 6962 / RFC 9162 computations with crypto/sha256, used as
// oracles for the tree and the tlog proofs.

func oLeaf(data []byte) tlog.Hash {
	return sha256.Sum256(append([]byte{0x00}, data...))
}

func oNode(l, r tlog.Hash) tlog.Hash {
	b := make([]byte, 0, 65)
	b = append(b, 0x01)
	b = append(b, l[:]...)
	b = append(b, r[:]...)
	return sha256.Sum256(b)
}

// oMTH is RFC 6962 section 2.1 MTH over leaf hashes.
func oMTH(leaves []tlog.Hash) tlog.Hash {
	switch n := len(leaves); n {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	default:
		k := 1 << (bits.Len(uint(n-1)) - 1) // largest power of 2 < n
		return oNode(oMTH(leaves[:k]), oMTH(leaves[k:]))
	}
}

// oCheckInclusion is RFC 9162 section 2.1.3.2.
func oCheckInclusion(index, size int64, leaf tlog.Hash, path []tlog.Hash, root tlog.Hash) bool {
	if index < 0 || index >= size {
		return false
	}
	fn, sn, r := index, size-1, leaf
	for _, p := range path {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			r = oNode(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = oNode(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	return sn == 0 && r == root
}

// oCheckConsistency is RFC 9162 section 2.1.4.2.
func oCheckConsistency(first, second int64, firstRoot, secondRoot tlog.Hash, path []tlog.Hash) bool {
	if first < 1 || first > second {
		return false
	}
	if first == second {
		return len(path) == 0 && firstRoot == secondRoot
	}
	if first&(first-1) == 0 {
		path = append([]tlog.Hash{firstRoot}, path...)
	}
	if len(path) == 0 {
		return false
	}
	fn, sn := first-1, second-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := path[0], path[0]
	for _, c := range path[1:] {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			fr = oNode(c, fr)
			sr = oNode(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = oNode(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	return fr == firstRoot && sr == secondRoot && sn == 0
}
