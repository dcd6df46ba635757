package gendata // want `noheader.capnp.go does not start with the "// Code generated ... DO NOT EDIT." line` `noheader.capnp.go has no "// ronaudit-gen-sha256:" line in its header`

// NoHeader lost its whole header.
type NoHeader struct{}
