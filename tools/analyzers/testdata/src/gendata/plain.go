package gendata

// Kind is hand-written code: nothing to check.
type Kind int
