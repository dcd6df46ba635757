# base.capnp with one change: a new field of a new struct with a union (old
# records have the pointer null, which reads as the struct's first member)
@0xb7a4e3f2c1d09e8a;

struct Rec @0xc4a1e2f3b5d6e7f8 {
  a @0 :UInt32;
  b @1 :Text;
  c @2 :List(Text);
  e @3 :Color;
  s @4 :Sub;
  n @5 :Nested;
}

struct Sub @0xd1e2f3a4b5c6d7e8 {
  x @0 :UInt16;
}

enum Color @0xe1f2a3b4c5d6e7f8 {
  red @0;
  green @1;
}

struct Nested @0xf1a2b3c4d5e6f7a8 {
  union {
    y @0 :Text;
    z @1 :UInt32;
  }
}
