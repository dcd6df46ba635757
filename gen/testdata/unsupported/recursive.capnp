@0xd1f0a3b2c4e5f60c;
struct Node {
  children @0 :List(Node);
}
