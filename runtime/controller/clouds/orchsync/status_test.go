package orchsync

import (
	"slices"
	"testing"
)

type testStatus struct {
	State  string
	Issues []string
}

func (s testStatus) Clone() testStatus {
	s.Issues = slices.Clone(s.Issues)
	return s
}

func TestStatusBoard(t *testing.T) {
	var b StatusBoard[testStatus]
	if _, ok := b.Get("c1"); ok {
		t.Fatal("an empty board has a status")
	}
	b.Update("c1", func(s *testStatus) {
		if s.State != "" || s.Issues != nil {
			t.Errorf("a new status starts from %+v, want the zero status", *s)
		}
		s.State, s.Issues = "SYNCED", []string{"a"}
	})
	got, ok := b.Get("c1")
	if !ok || got.State != "SYNCED" || !slices.Equal(got.Issues, []string{"a"}) {
		t.Fatalf("Get: %+v, %v", got, ok)
	}
	// What a reader holds is its own.
	got.Issues[0] = "changed"
	if again, _ := b.Get("c1"); again.Issues[0] != "a" {
		t.Errorf("a reader's change reached the board: %+v", again)
	}
	b.Update("c1", func(s *testStatus) { s.State = "ERROR" })
	if again, _ := b.Get("c1"); again.State != "ERROR" || again.Issues[0] != "a" {
		t.Errorf("after an update: %+v, want ERROR with the issues kept", again)
	}
	b.Delete("c1")
	if _, ok := b.Get("c1"); ok {
		t.Error("a deleted status is still there")
	}
}
