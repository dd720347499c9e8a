package controller

import (
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
import { shellCommand, shellQuote } from './shellquote.js';
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
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	inputs := []string{
		"ops", "a'b", "'", "''", `$(id)`, "`id`", "$(touch " + marker + ")", "`touch " + marker + "`",
		"a\nb", "line\n", "\r\n", "x; touch " + marker, "a && b || c", `"double"`, `back\slash`, `\'`,
		"$HOME", "${PATH}", "*", "?", "[a]", "~", "a b\tc", "-n", "--", "!1", "#comment", "é€", "",
		"https://192.0.2.1:443/api/linux_host_install?username=ops&x=$(id)",
	}
	out, dir := runUIScript(t, shellQuoteScript, inputs, "shellquote.js")
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
