// Package testvectors is where the tests keep the vectors of each released
// schema version, and how their -update writes the current version's
// without changing what was released (canonical/SPEC.md section 8). It is
// shared by the tests of canonical, sdk, sdk/checkpoint and sdk/export, so
// that every kind of vector follows the same rule: the vectors of schema
// version N are testing/vectors/vN; -update writes only those of
// canonical.SchemaVersion and never changes the released bytes of a file
// already there; every released version's stay checked by the current code.
package testvectors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Dir is the directory of schema version v's vectors under root
// (testing/vectors): root/vN.
func Dir(root string, v int) string { return filepath.Join(root, fmt.Sprintf("v%d", v)) }

// ErrFrozen: -update would change what a vector file already written holds
// (canonical/SPEC.md section 8 freezes it).
var ErrFrozen = errors.New("the vectors of a released schema version are frozen (canonical/SPEC.md section 8); fix the code (if the vector itself is meant to change and was never released, delete the file and run -update again)")

// Update is -update: it writes files (file name -> bytes) into dir, the
// directory of the current schema version's vectors, and nowhere else.
// Before it writes any, it checks each that is already there: frozen(name,
// old, new) names what of old's released content new changes, or is "", and a
// change is refused with ErrFrozen rather than baked in. So an earlier
// version's files, which no caller passes as dir, are never written, and
// the current version's keep what they released.
func Update(dir string, files map[string][]byte, frozen func(name string, old, new []byte) (string, error)) error {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		old, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var d string
		if err == nil {
			d, err = frozen(name, old, files[name])
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if d != "" {
			return fmt.Errorf("%s: %s: %w", path, d, ErrFrozen)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Frozen is the frozen check of a vector file for Update: a JSON file
// (name ends in .json) keeps every value at its place, except
// "description" values, which are prose; its arrays may gain items at
// their end (new cases, records, proofs), its objects keep their keys. Any
// other file (a signed note, a key) keeps every byte.
func Frozen(name string, old, new []byte) (string, error) {
	if !strings.HasSuffix(name, ".json") {
		if !bytes.Equal(old, new) {
			return "its bytes changed", nil
		}
		return "", nil
	}
	var o, n any
	for _, x := range []struct {
		b []byte
		v *any
	}{{old, &o}, {new, &n}} {
		dec := json.NewDecoder(bytes.NewReader(x.b))
		dec.UseNumber()
		if err := dec.Decode(x.v); err != nil {
			return "", err
		}
	}
	return frozenValue("$", o, n), nil
}

func frozenValue(at string, o, n any) string {
	switch o := o.(type) {
	case map[string]any:
		nm, ok := n.(map[string]any)
		if !ok || len(nm) != len(o) {
			return at + "'s keys changed"
		}
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			nv, ok := nm[k]
			if !ok {
				return at + "'s keys changed"
			}
			if k == "description" {
				continue
			}
			if d := frozenValue(at+"."+k, o[k], nv); d != "" {
				return d
			}
		}
	case []any:
		na, ok := n.([]any)
		if !ok || len(na) < len(o) {
			return at + " lost items"
		}
		for i := range o {
			if d := frozenValue(fmt.Sprintf("%s[%d]", at, i), o[i], na[i]); d != "" {
				return d
			}
		}
	default:
		if o != n {
			return at + " changed"
		}
	}
	return ""
}
