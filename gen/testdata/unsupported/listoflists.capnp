@0xd1f0a3b2c4e5f60a;
struct L {
  ll @0 :List(List(UInt8));
}
