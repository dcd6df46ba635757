package sdk_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestSealIntervalAfterReopen: the seal interval of a chain replayed by
// OpenDurable starts at its first commit after the reopen, through Append
// and through the Emitter (whose commit only started it for a chain's
// first record, so records emitted into a reopened chain were never
// signed by SealInterval).
func TestSealIntervalAfterReopen(t *testing.T) {
	for _, via := range []string{"append", "emitter"} {
		t.Run(via, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			clock := &coreClock{now: time.UnixMilli(1764201600000)}
			cfg := sdk.Config{Signer: coreSigner(t), SealEvery: 1000, SealInterval: time.Minute, Clock: clock.Now}
			l, _, err := sdk.OpenDurable(dir, cfg, sdk.DurableOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := emitRecord(0, 1, "s")
			if _, err := l.Append(&r); err != nil {
				t.Fatal(err)
			}
			l.Close()
			l, _, err = sdk.OpenDurable(dir, cfg, sdk.DurableOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var put func(n int)
			if via == "append" {
				put = func(n int) {
					r := emitRecord(0, n, "s")
					if _, err := l.Append(&r); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				e := newEmitter(t, l, sdk.EmitterOptions{Workers: 1})
				defer closeEmitter(t, e)
				put = func(n int) { emitSettled(t, e, n) }
			}
			put(2)
			clock.now = clock.now.Add(2 * time.Minute)
			put(3)
			clock.now = clock.now.Add(2 * time.Minute)
			put(4)
			signed := 0
			for seq := uint64(2); seq <= 4; seq++ {
				if rec, ok := l.Store().Get("svc-gateway@inst-1", "s", seq); ok && rec.Signed {
					signed++
				}
			}
			if signed == 0 {
				t.Errorf("%s: no record of seq 2..4 signed though SealInterval (1m) passed twice", via)
			}
		})
	}
}
