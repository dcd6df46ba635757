@0xd1f0a3b2c4e5f612;
struct N {
  n @0 :UInt8;
  u :union {
    a @1 :UInt8;
    b @2 :Text;
  }
}
