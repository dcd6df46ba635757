// Package nilptr tells a nil pointer held in an interface from a value.
//
// A host's Signer, Store, Observer or metrics declared as a pointer and
// made only on some path (or returned with an error the host dropped) is
// a non-nil interface holding a nil pointer: `x == nil` lets it through,
// and its first method call panics, often on one of the SDK's own
// goroutines, where nothing can recover it. Constructors refuse it with
// their ErrConfig instead.
package nilptr

import "reflect"

// Is reports whether v is nil or a nil pointer. Other nil-able kinds (a
// nil map, slice or func type) may have working methods and are not
// reported.
func Is(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
