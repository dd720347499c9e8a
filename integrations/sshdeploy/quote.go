package sshdeploy

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"strings"
)

// Remote commands run through the SSH user's login shell. Every value in them is validated
// first (an IP address, a plain path) and then quoted anyway, so no value can be read as shell
// syntax.

// Quote makes s one shell word: single quotes keep everything literal, and a single quote itself
// is closed, escaped and reopened.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// plainPath is what a remote directory may be made of.
var plainPath = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// checkRemoteDir accepts a clean path of plain characters that names a directory of its own (not
// "/", not ".", no ".."), since uninstalling removes it.
func checkRemoteDir(dir string) error {
	if !plainPath.MatchString(dir) || path.Clean(dir) != dir || dir == "/" || dir == "." ||
		dir == ".." || strings.HasPrefix(dir, "../") || strings.Contains(dir, "/../") || strings.HasPrefix(dir, "-") {
		return fmt.Errorf("remote directory %q: want a clean path of letters, digits and ._-/, naming a directory of its own", dir)
	}
	return nil
}

// remotePath is dir/name on the host as a shell word; a relative dir is below the SSH user's
// home (sudo keeps the working directory, but $HOME says it whatever the shell's is).
func remotePath(dir, name string) string {
	p := Quote(path.Join(dir, name))
	if !path.IsAbs(dir) {
		p = `"$HOME"/` + p
	}
	return p
}

// ipWord is an IP address in its canonical form, refusing anything else.
func ipWord(what, s string) (string, error) {
	ip := net.ParseIP(s)
	if ip == nil {
		return "", fmt.Errorf("%s %q is not an IP address", what, s)
	}
	return Quote(ip.String()), nil
}
