# The base of the evolution-rule tests: each other schema here is this one
# with one change, and the same file, struct and enum ids. Here: what may
# grow besides add_ok: new fields of an old struct that records nest (Sub),
# a new field in the padding of an old data word (p), a new enum, a
# constant and an annotation.
@0xb7a4e3f2c1d09e8a;

struct Rec @0xc4a1e2f3b5d6e7f8 {
  a @0 :UInt32;
  b @1 :Text $note("an annotation");
  c @2 :List(Text);
  e @3 :Color;
  s @4 :Sub;
  p @5 :UInt16;
  k @6 :Kind;
}

struct Sub @0xd1e2f3a4b5c6d7e8 {
  x @0 :UInt16;
  w @1 :Text;
  n @2 :UInt64;
}

enum Color @0xe1f2a3b4c5d6e7f8 {
  red @0;
  green @1;
}

enum Kind @0xe1f2a3b4c5d6e7f0 {
  one @0;
  two @1;
}

const limit :UInt32 = 5;
annotation note(field) :Text;
