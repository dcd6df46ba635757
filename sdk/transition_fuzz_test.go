package sdk_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// FuzzKeyTransition: KeyTransition, the reader of the key a rotation
// record names, never panics, reports a transition exactly when the
// record holds the KeyTransitionAttr attr, and accepts only the one
// spelling RotateKey writes: "ed25519:" and the key's 32 bytes in lower
// case hex, returning those bytes. The fuzzer picks the attr's value and
// a neighbouring attr. Seeds: a value RotateKey writes, and near misses.
func FuzzKeyTransition(f *testing.F) {
	pub := rotateSigner(f, "fuzz transition").Public()
	good := "ed25519:" + hex.EncodeToString(pub)
	f.Add(good, true, "n", "1")
	f.Add(good[:len(good)-1], true, "a", "")
	f.Add("ED25519:"+hex.EncodeToString(pub), true, "z", "x")
	f.Add("ed25519:"+hex.EncodeToString(pub[:31]), true, "zz", "x")
	f.Add(good, false, "n", "1")
	f.Fuzz(func(t *testing.T, value string, present bool, otherKey, otherValue string) {
		r := canonical.AuditRecord{Kind: canonical.KindPolicyChanged, WriterID: "w", Stream: "s", Seq: 1,
			Prev: canonical.Genesis[:], V: 1, TsMs: 1, Reason: "r"}
		if present {
			r.Attrs = append(r.Attrs, canonical.Attr{Key: sdk.KeyTransitionAttr, Value: value})
		}
		if otherKey != sdk.KeyTransitionAttr {
			r.Attrs = append(r.Attrs, canonical.Attr{Key: otherKey, Value: otherValue})
		}
		if err := canonical.Normalize(&r); err != nil {
			return
		}
		b, err := canonical.AppendRecord(nil, &r, canonical.Limits{MaxRecord: canonical.MaxRecordSize, MaxAttrs: canonical.MaxRecordSize})
		if err != nil {
			return // not a record (text that is not UTF-8, an empty key, ...)
		}
		v, err := canonical.Open(b)
		if err != nil {
			t.Fatalf("Open refuses what AppendRecord wrote: %v", err)
		}
		next, ok, err := sdk.KeyTransition(v)
		if ok != present {
			t.Fatalf("transition reported %v, the record holds one %v", ok, present)
		}
		var want ed25519.PublicKey
		if k, err := hex.DecodeString(value[min(len(value), len("ed25519:")):]); err == nil && len(k) == ed25519.PublicKeySize &&
			value == "ed25519:"+hex.EncodeToString(k) {
			want = k
		}
		switch {
		case !present:
			if next != nil || err != nil {
				t.Fatalf("no transition attr: %x, %v", next, err)
			}
		case want == nil:
			if err == nil || next != nil {
				t.Fatalf("accepted %q as a transition to %x", value, next)
			}
		default:
			if err != nil || !want.Equal(next) {
				t.Fatalf("%q: %x, %v; want %x", value, next, err, want)
			}
		}
	})
}
