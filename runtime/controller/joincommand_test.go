package controller

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/avi-init/avi-init/model/contract"
)

// joinCommandScript prints the UI's join commands for the cases read from standard input.
const joinCommandScript = `import { readFileSync } from 'node:fs';
import { DEFAULT_SYSINT_PORT, joinCommand } from './joincommand.js';
const cases = JSON.parse(readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify({ default_port: DEFAULT_SYSINT_PORT, commands: cases.map((c) => joinCommand(c.token, c.host, c.port)) }));
`

// The join command the UI prints (ui/lib/joincommand.js), run by sh against a stand-in sudo and
// installer: the installer gets -sysint only for a port other than the default, and the token in
// AVI_JOIN_TOKEN, never in any process's arguments.
func TestUIJoinCommand(t *testing.T) {
	const token = "abc123.0123456789abcdef.sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		Host string `json:"host"`
		Port any    `json:"port"`
		want []string
	}{
		{"192.0.2.1", "5098", []string{"-s", "-m", "192.0.2.1", "-sysint", "5098"}},
		{"192.0.2.1", contract.DefaultSysintPort, []string{"-s", "-m", "192.0.2.1"}},
		{"2001:db8::1", nil, []string{"-s", "-m", "2001:db8::1"}},
	}
	in := []map[string]any{}
	for _, c := range cases {
		in = append(in, map[string]any{"token": token, "host": c.Host, "port": c.Port})
	}
	out, dir := runUIScript(t, joinCommandScript, in, "joincommand.js", "shellquote.js")
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o700)
	// sudo passes on AVI_JOIN_TOKEN only when asked to; both record their arguments.
	files := map[string][]byte{}
	files["bin/sudo"] = []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > sudo.args\n[ \"$1\" = --preserve-env=AVI_JOIN_TOKEN ] || unset AVI_JOIN_TOKEN\nshift\nexec \"$@\"\n")
	files["avi-init"] = []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > installer.args\nprintf '%s' \"$AVI_JOIN_TOKEN\" > installer.token\n")
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var got struct {
		DefaultPort int      `json:"default_port"`
		Commands    []string `json:"commands"`
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got.Commands) != len(cases) {
		t.Fatalf("node printed %s (%v)", out, err)
	}
	if got.DefaultPort != contract.DefaultSysintPort {
		t.Errorf("the UI's DEFAULT_SYSINT_PORT is %d, the installer's %d", got.DefaultPort, contract.DefaultSysintPort)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for i, c := range cases {
		line := got.Commands[i]
		sh := exec.Command("sh", "-c", line)
		sh.Dir, sh.Env = dir, []string{"PATH=" + bin + ":/usr/bin:/bin"}
		if out, err := sh.CombinedOutput(); err != nil {
			t.Fatalf("sh -c %q: %v: %s", line, err, out)
		}
		args := strings.Fields(read("installer.args"))
		if !reflect.DeepEqual(args, c.want) {
			t.Errorf("%s: the installer got %q, want %q", line, args, c.want)
		}
		if tok := read("installer.token"); tok != token {
			t.Errorf("%s: the installer's AVI_JOIN_TOKEN is %q, want the token", line, tok)
		}
		if strings.Contains(read("sudo.args")+read("installer.args"), token) {
			t.Errorf("%s: the token is in a process's arguments", line)
		}
	}
}
