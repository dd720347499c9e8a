package main

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/avi-init/avi-init/"

// layers are the tree's parts from the bottom up (DESIGN.md "Layout"): a package may import its
// own part or a part below it, never one above or beside it. templates and systemd sit with the
// installer's parts, under both the installer and the runtimes.
var layers = [][]string{
	{"internal/"},
	{"model/"},
	{"integrations/"},
	{"templates", "systemd"},
	{"installer", "runtime/"},
	{"cmd/"},
}

// partOf returns the layer of a package and the prefix that placed it there.
func partOf(pkg string) (int, string) {
	rel := strings.TrimPrefix(pkg, module)
	for i, parts := range layers {
		for _, p := range parts {
			if rel == strings.TrimSuffix(p, "/") || strings.HasPrefix(rel, strings.TrimSuffix(p, "/")+"/") {
				return i, p
			}
		}
	}
	return -1, ""
}

// allowed says whether a package in from may import one in to.
func allowed(from, to string) bool {
	lf, pf := partOf(from)
	lt, pt := partOf(to)
	if lf < 0 || lt < 0 {
		return false
	}
	return lt < lf || pt == pf
}

// goList returns the lines `go list args...` prints.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func TestImportsOnlyGoDown(t *testing.T) {
	for _, line := range goList(t, "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...") {
		pkgs := strings.Fields(line)
		from := pkgs[0]
		if strings.HasPrefix(from, module+"e2e") {
			continue // the end-to-end tests drive every part from outside
		}
		if l, _ := partOf(from); l < 0 {
			t.Errorf("%s belongs to no part of the layout: place it, or add its part to layers", from)
			continue
		}
		for _, imp := range pkgs[1:] {
			if strings.HasPrefix(imp, module) && !allowed(from, imp) {
				t.Errorf("%s imports %s, which is above or beside it", from, imp)
			}
		}
	}
}

// The installer never imports a runtime: it would link their store, metrics and netlink code
// (and their bugs) into every install. What it shares with them is model/contract.
func TestInstallerDoesNotLinkTheRuntimes(t *testing.T) {
	forbidden := []string{
		module + "runtime/",
		"go.etcd.io/bbolt",
		"github.com/vishvananda/netlink",
		"github.com/prometheus/client_golang",
	}
	for _, dep := range goList(t, "-deps", "-f", "{{.ImportPath}}", module+"installer/...") {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("the installer links %s", dep)
			}
		}
	}
}

func TestLayerRule(t *testing.T) {
	for _, tt := range []struct {
		from, to string
		ok       bool
	}{
		{"runtime/controller", "model/avi", true},
		{"runtime/controller", "runtime/controller/store", true},
		{"installer", "installer/image", true},
		{"installer/containerspec", "integrations/docker", true},
		{"installer", "runtime/se", false},
		{"runtime/se", "installer", false},
		{"integrations/docker", "installer/containerspec", false},
		{"model/avi", "integrations/marathon", false},
		{"internal/retry", "model/avi", false},
		{"templates", "installer", false},
		{"installer", "templates", true},
		{"unplaced", "model/avi", false},
	} {
		if got := allowed(module+tt.from, module+tt.to); got != tt.ok {
			t.Errorf("allowed(%s -> %s) = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
}
