package controller

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// shellQuoteScript runs the UI's shell quoting on each string of a JSON array read from standard
// input and prints {"quoted": [...], "commands": [...]}: each string alone, and in a command
// built with the shellCommand tag.
const shellQuoteScript = `import { readFileSync } from 'node:fs';
import { shellCommand, shellQuote } from './shellquote.mjs';
const inputs = JSON.parse(readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify({
  quoted: inputs.map(shellQuote),
  commands: inputs.map((s) => shellCommand` + "`printf '%s|%s' ${s} ${s}`" + `),
}));
`

// The commands the UI shows to copy quote every value: the shell reads each hostile string back
// as it was, one word, running nothing. The UI's own module (ui/lib/shellquote.js) runs under
// node and its output under sh.
func TestUIShellQuote(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is needed to test ui/lib/shellquote.js: %v", err)
		}
		t.Skipf("node not found (%v): ui/lib/shellquote.js untested", err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	src, err := uiFiles.ReadFile("ui/lib/shellquote.js")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// .mjs: node reads both files as ES modules, as the browser does, without a package.json.
	for name, data := range map[string][]byte{"shellquote.mjs": src, "run.mjs": []byte(shellQuoteScript)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	marker := filepath.Join(dir, "ran")
	inputs := []string{
		"ops", "a'b", "'", "''", `$(id)`, "`id`", "$(touch " + marker + ")", "`touch " + marker + "`",
		"a\nb", "line\n", "\r\n", "x; touch " + marker, "a && b || c", `"double"`, `back\slash`, `\'`,
		"$HOME", "${PATH}", "*", "?", "[a]", "~", "a b\tc", "-n", "--", "!1", "#comment", "é€", "",
		"https://192.0.2.1:443/api/linux_host_install?username=ops&x=$(id)",
	}
	in, err := json.Marshal(inputs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "run.mjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node run.mjs: %v: %s", err, stderr.String())
	}
	var got struct{ Quoted, Commands []string }
	if err := json.Unmarshal(out, &got); err != nil || len(got.Quoted) != len(inputs) || len(got.Commands) != len(inputs) {
		t.Fatalf("node printed %q (%v): want one quoted string and one command per input", out, err)
	}
	run := func(script string) string {
		t.Helper()
		c := exec.Command(sh, "-c", script)
		c.Dir = dir
		out, err := c.Output()
		if err != nil {
			t.Fatalf("sh -c %q: %v", script, err)
		}
		return string(out)
	}
	for i, s := range inputs {
		if back := run("printf %s " + got.Quoted[i]); back != s {
			t.Errorf("shellQuote(%q) = %s: sh printed %q", s, got.Quoted[i], back)
		}
		if back := run(got.Commands[i]); back != s+"|"+s {
			t.Errorf("shellCommand with %q = %s: sh printed %q, want %q", s, got.Commands[i], back, s+"|"+s)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a quoted value ran a command: " + marker + " exists")
	}
}
