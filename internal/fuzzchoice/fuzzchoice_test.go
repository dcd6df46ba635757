package fuzzchoice

import "testing"

func TestReader(t *testing.T) {
	r := New([]byte{7, 255})
	if r.Len() != 2 {
		t.Fatalf("Len of two choices: %d", r.Len())
	}
	for i, want := range []int{7, 255, 0, 0} {
		if got := r.Next(); got != want {
			t.Errorf("choice %d: %d, want %d", i, got, want)
		}
	}
	if r.Len() != 0 {
		t.Errorf("Len after every choice: %d", r.Len())
	}
	if got := New(nil).Next(); got != 0 {
		t.Errorf("the empty input's first choice: %d, want 0", got)
	}
}
