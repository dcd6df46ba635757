# base.capnp with one change: every field spells out its default, which
# is the one it had (zero, empty or null), and a new field does the same.
# The bytes and the reading of every record stay; only -0.0 (negzero_default)
# is a default that changes them.
@0xb7a4e3f2c1d09e8a;

struct Rec @0xc4a1e2f3b5d6e7f8 {
  a @0 :UInt32 = 0;
  b @1 :Text = "";
  c @2 :List(Text) = [];
  e @3 :Color = red;
  s @4 :Sub = ();
  f @5 :Float64 = 0.0;
  g @6 :Bool = false;
  d @7 :Data = "";
  h @8 :List(Bool) = [];
  i @9 :List(Sub) = [];
}

struct Sub @0xd1e2f3a4b5c6d7e8 {
  x @0 :UInt16 = 0;
}

enum Color @0xe1f2a3b4c5d6e7f8 {
  red @0;
  green @1;
}
