@0xd1f0a3b2c4e5f609;
struct A {
  p @0 :AnyPointer;
}
