package systemdhost

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestTmpBindSurvives(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "sub"), 0o755)
	os.WriteFile(filepath.Join(d, "sub", "keep"), []byte("x"), 0o644)
	h := New(t, Options{Binds: []string{d}})
	out, _, _ := h.Exec(context.Background(), "sh", "-c", "ls -R "+d+"; echo hi > "+d+"/written; journalctl -b -p warning --no-pager; cat /etc/machine-id")
	t.Logf("%s", out)
	b, err := os.ReadFile(filepath.Join(d, "written"))
	t.Logf("host sees: %q %v", b, err)
	if _, err := os.Stat(filepath.Join(d, "sub", "keep")); err != nil {
		t.Fatal(err)
	}
}
