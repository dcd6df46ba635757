@0xd1f0a3b2c4e5f607;
struct U {
  union {
    a @0 :UInt32;
    b @1 :Text;
  }
}
