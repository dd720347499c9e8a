package controller

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// runUIScript runs script (an ES module) under node beside the named modules of ui/lib, as the
// browser loads them, with input as JSON on standard input. It returns what the script printed
// and the directory it ran in. Without node the test fails under CI=true and skips elsewhere.
func runUIScript(t *testing.T, script string, input any, modules ...string) ([]byte, string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is needed to test the UI's modules %v: %v", modules, err)
		}
		t.Skipf("node not found (%v): the UI's modules %v untested", err, modules)
	}
	dir := t.TempDir()
	files := map[string][]byte{"run.js": []byte(script), "package.json": []byte(`{"type": "module"}`)}
	for _, name := range modules {
		if files[name], err = uiFiles.ReadFile("ui/lib/" + name); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "run.js")
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node run.js: %v: %s", err, stderr.String())
	}
	return out, dir
}
