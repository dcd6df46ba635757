@0xd1f0a3b2c4e5f608;
struct G {
  g :group {
    a @0 :UInt32;
  }
}
