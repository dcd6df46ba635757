@0xd1f0a3b2c4e5f60f;
struct Box(T) {
  t @0 :T;
}
