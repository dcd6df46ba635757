# list_default_a.capnp with one change: P grew a field; the defaults hold
# the same values.
@0xb7a4e3f2c1d09e8a;

struct Rec @0xc4a1e2f3b5d6e7f8 {
  e @0 :List(E) = [(), ()];
  p @1 :List(P) = [(a = 1), (a = 2)];
}

struct E @0xd1e2f3a4b5c6d7e8 {
}

struct P @0xd1e2f3a4b5c6d7e9 {
  a @0 :UInt64;
  b @1 :UInt64;
}
