package leakcheck

import (
	"testing"
	"time"
)

func park(stop chan struct{}) { <-stop }

// TestOwnGoroutinesIgnored: a goroutine a test starts (created by code in
// a _test.go file) is the test's own, not one Running lists. That the
// check does see the module's goroutines is tested where there are some:
// sdk's TestLeakCheckSeesSDKGoroutines.
func TestOwnGoroutinesIgnored(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	go park(stop)
	time.Sleep(time.Millisecond)
	for _, g := range Running() {
		t.Errorf("a test's own goroutine was listed:\n%s", g.Stack)
	}
}

func TestGoroutineID(t *testing.T) {
	id, ok := goroutineID("goroutine 12 [running]:\nmain.main()")
	if !ok || id != "12" {
		t.Fatalf("got %q %v", id, ok)
	}
	if _, ok := goroutineID("garbage"); ok {
		t.Fatal("parsed garbage")
	}
}
