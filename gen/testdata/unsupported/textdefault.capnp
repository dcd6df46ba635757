@0xd1f0a3b2c4e5f614;
struct T {
  t @0 :Text = "x";
}
