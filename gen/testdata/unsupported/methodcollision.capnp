@0xd1f0a3b2c4e5f60b;
struct Rec {
  # A field named decode would make a method Decode next to the view's own.
  decode @0 :Text;
}
