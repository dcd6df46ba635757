// Package analyzers holds the project's own static checks, run by
// tools/cmd/ronaudit-lint (go run ./tools/cmd/ronaudit-lint ./...) and, so
// that CI's go test ./... runs them too, by TestTree. Each turns a promise
// the code makes into a rule checked on every change:
//
//   - [NoUnsafe] ("nounsafe"): no package under sdk/ or canonical/ imports
//     "unsafe". The SDK promises memory safety to the services that embed it
//     and an audit format whose bytes are produced by checked code; one
//     unsafe pointer trick in an encoder or the log would void both.
//
//   - [Generated] ("generated"): every *.capnp.go file starts with the
//     "// Code generated ... DO NOT EDIT." line, and every file the
//     generator wrote still hashes to the SHA-256 its header records (see
//     gen.SumPrefix). The canonical bytes of every record, the bytes that
//     are hashed, chained and signed, come from the generated encoders and
//     openers: a hand edit there changes the format without a schema
//     change, so it must be caught, and caught without the capnp tool (the
//     golden test in package gen catches stale code when the schema or the
//     generator changes).
//
//   - [HotPath] ("hotpath"): a function whose doc comment holds the
//     directive //ronaudit:hot may not call package fmt; make, index,
//     delete from or range over maps; hold closures other than ones called
//     on the spot; start goroutines; or defer inside a loop. A defer
//     outside loops is allowed: it is open-coded and allocates nothing, and
//     the hot paths use it to unlock. Append and Verify promise zero
//     allocations per operation, and testing.AllocsPerRun tests assert it;
//     those tests find an allocation only after the fact and only on the
//     paths they drive, while this rule names the line at review time,
//     error paths included. A hot function builds its errors in a separate
//     small unmarked helper (return conflictError(...)), which keeps the
//     hot body clean and costs nothing on the path that succeeds. A
//     directive that marks no function (separated from it by a blank line,
//     or written "// ronaudit:hot") is reported too, since it would leave
//     the function unchecked in silence.
//
// The rules are syntactic and deliberately narrow: they catch the common
// ways to break the promises, not every allocation (the AllocsPerRun tests
// remain the measure). TestTree runs them over canonical/, gen/ and sdk/,
// failing on a finding as ronaudit-lint does, and checks that the hot
// functions are still marked.
package analyzers
