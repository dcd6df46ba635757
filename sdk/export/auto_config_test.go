package export

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestAutoMissingFieldIsErrConfig: an Auto started without its Log, its
// Keeper, its Exporter or the Exporter's Sink is the host's
// configuration mistake. It used to surface only on the export
// goroutine, as a nil-pointer panic (a.Keeper.SignerAt, a.Log.Records,
// a.Exporter.NoteSigner) that no caller can recover and that ends the
// host's process with the first checkpoint. It must be sdk.ErrConfig
// naming the field, from Start, and from Err, Close and OnFailure for a
// host that drops Start's error, with no export attempted.
func TestAutoMissingFieldIsErrConfig(t *testing.T) {
	log, keeper := autoDeps(t)
	appendN(t, log, 0, 3, 0)
	cp := checkpoint.Checkpoint{Origin: checkpoint.Origin("w", "s"), WriterID: "w", Stream: "s", Size: 3}

	for _, tc := range []struct {
		field string
		unset func(a *Auto)
	}{
		{"Auto.Log", func(a *Auto) { a.Log = nil }},
		{"Auto.Keeper", func(a *Auto) { a.Keeper = nil }},
		{"Auto.Exporter", func(a *Auto) { a.Exporter = nil }},
		{"Auto.Exporter.Sink", func(a *Auto) { a.Exporter.Sink = nil }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			var failures []error
			asked := 0
			a := &Auto{Exporter: &Exporter{Sink: &memSink{}}, Log: log, Keeper: keeper,
				Prev:      func(string, string) (*State, error) { asked++; return nil, nil },
				OnFailure: func(err error) { failures = append(failures, err) }}
			tc.unset(a)
			a.Checkpointed(cp, 0)
			err := a.Start()
			if !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), tc.field+" is nil") {
				t.Fatalf("Start = %v, want sdk.ErrConfig saying %s is nil", err, tc.field)
			}
			a.Checkpointed(cp, 0) // after the refusal: nothing queued, nothing run
			if again := a.Start(); !errors.Is(again, sdk.ErrConfig) {
				t.Errorf("second Start = %v, want sdk.ErrConfig again", again)
			}
			if got := a.Err(); got != err {
				t.Errorf("Err = %v, want Start's %v", got, err)
			}
			if got := a.Close(); got != err {
				t.Errorf("Close = %v, want Start's %v", got, err)
			}
			if asked != 0 {
				t.Errorf("Prev asked %d times: an export was attempted", asked)
			}
			if len(failures) != 1 || failures[0] != err {
				t.Errorf("OnFailure saw %v, want once %v", failures, err)
			}
		})
	}
}

// autoDeps returns a Log (in RAM) and a Keeper (closed with the test),
// unwired, for an Auto whose test stops before either is used (in Prev,
// say): Start refuses an Auto without them.
func autoDeps(t *testing.T) (*sdk.Log, *checkpoint.Keeper) {
	t.Helper()
	signer := restartSigner(t)
	log, err := sdk.New(sdk.Config{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	keeper, err := checkpoint.NewKeeper(filepath.Join(t.TempDir(), "checkpoints"), signer, checkpoint.KeeperOptions{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keeper.Close() })
	return log, keeper
}

// keptChain returns a Log (in RAM) whose chain w/s holds 3 records, its
// Keeper, which checkpointed them, and that checkpoint as the State of
// an export up to it: a Prev returning it leaves an Auto nothing to
// export for the checkpoint, with the Log and the Keeper agreeing.
func keptChain(t *testing.T) (*sdk.Log, *checkpoint.Keeper, checkpoint.Checkpoint, *State) {
	t.Helper()
	signer := restartSigner(t)
	keeper, err := checkpoint.NewKeeper(filepath.Join(t.TempDir(), "checkpoints"), signer, checkpoint.KeeperOptions{Every: 3, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keeper.Close() })
	log, err := sdk.New(sdk.Config{Signer: signer, Observer: keeper})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, log, 0, 3, 0)
	newest := keeper.Newest()
	paths, err := keeper.History("w", "s")
	if err != nil || len(newest) != 1 || len(paths) != 1 {
		t.Fatalf("Keeper after 3 records: checkpoints %v, history %v, %v", newest, paths, err)
	}
	note, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	return log, keeper, newest[0], &State{Size: newest[0].Size, Note: note}
}

// TestExporterNilPointerIsErrConfig: a nil *FileSink as the Sink, or a
// nil *sdk.Ed25519Signer as the Signer (sdk.LoadSigner's result with
// its error dropped), is no nil interface: Export took it and panicked
// (the Signer's KeyID), or read the log before finding out, and an
// Auto's export goroutine would write into it. Both are sdk.ErrConfig
// naming the field, from Export before the log is read and from
// Auto.Start.
func TestExporterNilPointerIsErrConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	durableLog(t, dir, newSigner(t, 1), 3)
	for _, tc := range []struct {
		field string
		ex    *Exporter
	}{
		{"Exporter.Sink", &Exporter{Sink: (*FileSink)(nil), Signer: newSigner(t, 1)}},
		{"Exporter.Signer", &Exporter{Sink: &memSink{}, Signer: (*sdk.Ed25519Signer)(nil)}},
	} {
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = errors.New("panic")
					t.Errorf("Export with a nil pointer as %s: panic %v", tc.field, r)
				}
			}()
			_, err = tc.ex.Export(dir, testWriter, testStream, nil)
		}()
		if !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), tc.field+" is a nil") {
			t.Errorf("Export with a nil pointer as %s: %v, want sdk.ErrConfig naming it", tc.field, err)
		}
	}
	log, keeper := autoDeps(t)
	a := &Auto{Exporter: &Exporter{Sink: (*FileSink)(nil)}, Log: log, Keeper: keeper}
	if err := a.Start(); !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), "Auto.Exporter.Sink is a nil") {
		t.Errorf("Auto.Start with a nil *FileSink: %v, want sdk.ErrConfig naming Auto.Exporter.Sink", err)
	}
}
