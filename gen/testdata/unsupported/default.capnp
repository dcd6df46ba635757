@0xd1f0a3b2c4e5f60b;
struct D {
  n @0 :UInt32 = 7;
}
