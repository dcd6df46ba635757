@0xd1f0a3b2c4e5f613;
struct F {
  f @0 :Float64 = nan;
}
