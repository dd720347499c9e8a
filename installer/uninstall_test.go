package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func (h *harness) uninstall(t *testing.T, args ...string) (string, error) {
	t.Helper()
	o, err := ParseUninstall(args)
	if err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	h.out.Reset()
	err = Uninstall(context.Background(), h.env, o)
	return h.out.String(), err
}

// An uninstall that keeps data says where it is, and a purge run afterwards, with the env files
// that named the directories gone, still finds and deletes it.
func TestPurgeAfterUninstallDeletesTheKeptData(t *testing.T) {
	h := newHarness(t, false)
	if out, err := h.install(t, "-c", "-i"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	data := filepath.Join(h.env.Root, "opt/avi/controller/data")

	out, err := h.uninstall(t)
	if err != nil || !strings.Contains(out, "kept data in "+data+" (uninstall --purge deletes it)") {
		t.Fatalf("uninstall: err %v, want it to name the kept %s\n%s", err, data, out)
	}
	if !exists(data) || exists(h.env.EnvFile("controller")) {
		t.Fatalf("uninstall: data kept %v (want true), env file left %v (want false)", exists(data), exists(h.env.EnvFile("controller")))
	}
	if fi, err := os.Stat(h.env.KeptDataFile()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("record of kept data: %v, want mode 0600", err)
	}
	// A second uninstall still reminds of the data.
	if out, err := h.uninstall(t); err != nil || !strings.Contains(out, "kept data in "+data) {
		t.Errorf("second uninstall: err %v, want it to name %s again\n%s", err, data, out)
	}

	out, err = h.uninstall(t, "--purge", "--yes")
	if err != nil || !strings.Contains(out, "deleted "+data) {
		t.Fatalf("purge: err %v, want it to delete %s\n%s", err, data, out)
	}
	if exists(data) || exists(h.env.KeptDataFile()) {
		t.Errorf("purge left data %v, record %v", exists(data), exists(h.env.KeptDataFile()))
	}

	// Nothing left: purge says so rather than succeed silently.
	if _, err := h.uninstall(t, "--purge", "--yes"); err == nil || !strings.Contains(err.Error(), "nothing was deleted") {
		t.Errorf("purge with nothing left: err %v, want one saying nothing was deleted", err)
	}
}

// Reinstalled elsewhere, the installation's directories and the kept ones are all purged.
func TestPurgeDeletesInstalledAndKeptData(t *testing.T) {
	h := newHarness(t, false)
	if out, err := h.install(t, "-c", "-i"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	if out, err := h.uninstall(t); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	if out, err := h.install(t, "-c", "-i", "-cdp", "/srv/avi"); err != nil {
		t.Fatalf("reinstall: %v\n%s", err, out)
	}
	out, err := h.uninstall(t, "--purge", "--yes")
	if err != nil {
		t.Fatalf("purge: %v\n%s", err, out)
	}
	for _, d := range []string{"opt/avi/controller/data", "srv/avi"} {
		if d = filepath.Join(h.env.Root, d); exists(d) || !strings.Contains(out, "deleted "+d) {
			t.Errorf("purge kept %s\n%s", d, out)
		}
	}
}

// With no installation and no record (an avi-init from before the record), purge fails and names
// the default directories it finds, deleting none.
func TestPurgeWithNoRecordNamesTheDefaults(t *testing.T) {
	h := newHarness(t, false)
	for _, tt := range []struct {
		name    string
		mkdir   bool
		mention string
	}{
		{"clean host", false, "nothing installed here"},
		{"default directory left", true, "opt/avi/controller/data (the default data directories) exist: delete them by hand"},
	} {
		data := filepath.Join(h.env.Root, "opt/avi/controller/data")
		if tt.mkdir {
			if err := os.MkdirAll(data, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		_, err := h.uninstall(t, "--purge", "--yes")
		if err == nil || !strings.Contains(err.Error(), tt.mention) || !strings.Contains(err.Error(), "nothing was deleted") {
			t.Errorf("%s: err %v, want it to mention %q", tt.name, err, tt.mention)
		}
		if tt.mkdir && !exists(data) {
			t.Errorf("%s: purge deleted %s, which no record named", tt.name, data)
		}
	}
}

// A record that does not hold clean absolute paths was not written by avi-init: purge refuses
// to delete by it.
func TestPurgeRefusesAStrangeRecord(t *testing.T) {
	for _, content := range []string{"/\n", "relative/dir\n", "/opt/avi/../etc\n"} {
		h := newHarness(t, false)
		if err := writePrivate(h.env.KeptDataFile(), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := h.uninstall(t, "--purge", "--yes"); err == nil || !strings.Contains(err.Error(), "not a data directory") {
			t.Errorf("record %q: err %v, want a refusal naming the record", content, err)
		}
	}
}

func TestPurgeConfirms(t *testing.T) {
	h := newHarness(t, false)
	if out, err := h.install(t, "-c", "-i"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	data := filepath.Join(h.env.Root, "opt/avi/controller/data")

	_, err := h.uninstall(t, "--purge")
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), data) || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("purge with no terminal: err %v, want a usage error naming %s and --yes", err, data)
	}
	h.env.Asker = &scriptAsker{answers: []string{"maybe", "n"}}
	if _, err := h.uninstall(t, "--purge"); err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("purge answered no: err %v, want cancelled", err)
	}
	if !exists(data) || !exists(h.env.EnvFile("controller")) {
		t.Fatal("a refused purge removed something")
	}
	h.env.Asker = &scriptAsker{answers: []string{"y"}}
	if out, err := h.uninstall(t, "--purge"); err != nil || exists(data) {
		t.Errorf("purge answered yes: err %v, data left %v\n%s", err, exists(data), out)
	}
}

func TestUninstallNeedsRoot(t *testing.T) {
	h := newHarness(t, false)
	h.env.Euid = 1000
	if _, err := h.uninstall(t); err == nil || !strings.Contains(err.Error(), "root") {
		t.Errorf("uninstall as a user: err %v, want one asking for root", err)
	}
}

func TestParseUninstall(t *testing.T) {
	for _, tt := range []struct {
		args  []string
		want  UninstallOptions
		usage string
	}{
		{nil, UninstallOptions{}, ""},
		{[]string{"--purge", "--yes"}, UninstallOptions{Purge: true, Yes: true}, ""},
		{[]string{"--purge", "now"}, UninstallOptions{}, `unexpected argument "now"`},
		{[]string{"--force"}, UninstallOptions{}, "unknown flag: --force"},
	} {
		o, err := ParseUninstall(tt.args)
		var ue *UsageError
		switch {
		case tt.usage != "" && (!errors.As(err, &ue) || !strings.Contains(err.Error(), tt.usage)):
			t.Errorf("ParseUninstall(%q) = %v, want a usage error saying %q", tt.args, err, tt.usage)
		case tt.usage == "" && (err != nil || *o != tt.want):
			t.Errorf("ParseUninstall(%q) = %+v, %v; want %+v", tt.args, o, err, tt.want)
		}
	}
}
