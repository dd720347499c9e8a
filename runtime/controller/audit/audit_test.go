package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/avi-init/avi-init/model/avi"
)

// TestBudgetConstants: the standard log keeps within 24 MiB.
func TestBudgetConstants(t *testing.T) {
	if Budget != 24<<20 || (KeepFiles+1)*MaxFileBytes > 24<<20 || MaxEntryBytes > MaxFileBytes {
		t.Fatalf("budget %d, files %d of %d, entry %d", Budget, KeepFiles+1, MaxFileBytes, MaxEntryBytes)
	}
}

// openLog opens the log in dir, rotating at maxBytes and keeping keep files, until the test ends.
func openLog(t *testing.T, dir string, maxBytes int64, keep int) *Log {
	t.Helper()
	l, err := OpenSized(dir, maxBytes, keep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// dirBytes is the size of the files in dir, and how many there are.
func dirBytes(t *testing.T, dir string) (int64, int) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	return total, len(ents)
}

// writeMany writes entries of about size bytes until more than n bytes were written.
func writeMany(t *testing.T, l *Log, size int, n int64, start time.Time) int {
	t.Helper()
	pad := strings.Repeat("x", size)
	var written int64
	i := 0
	for ; written <= n; i++ {
		e := Entry{Time: start.Add(time.Duration(i) * time.Second), User: "u", Action: ActionUpdate, Status: 200, Path: "/api/pool/" + pad}
		if err := l.Write(e); err != nil {
			t.Fatal(err)
		}
		written += int64(size)
	}
	return i
}

// TestLogStaysWithinBudget: past its budget the log rotates and drops the oldest file; a query
// still reads the rotated files, newest first.
func TestLogStaysWithinBudget(t *testing.T) {
	dir := t.TempDir()
	const maxBytes, keep = 8 << 10, 3
	l := openLog(t, dir, maxBytes, keep)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := writeMany(t, l, 300, 10*(keep+1)*maxBytes, start)
	size, files := dirBytes(t, dir)
	if size > (keep+1)*maxBytes || files > keep+1 {
		t.Fatalf("%d bytes in %d files, budget %d in %d", size, files, (keep+1)*maxBytes, keep+1)
	}
	total, page, err := l.Query(Filter{Page: 1, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if total < 2*maxBytes/400 || total >= n {
		t.Errorf("%d entries kept of %d written", total, n)
	}
	if want := start.Add(time.Duration(n-1) * time.Second); !page[0].Time.Equal(want) {
		t.Errorf("newest entry at %v, want %v", page[0].Time, want)
	}
	for i := 1; i < len(page); i++ {
		if !page[i].Time.Before(page[i-1].Time) {
			t.Fatalf("entries not newest first at %d", i)
		}
	}
}

// TestRealBudget: the standard log, fed more than 24 MiB, keeps within it.
func TestRealBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 25 MiB")
	}
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n := writeMany(t, l, 4000, Budget+1<<20, time.Now())
	size, files := dirBytes(t, dir)
	if size > Budget || files != KeepFiles+1 {
		t.Fatalf("%d bytes in %d files, budget %d", size, files, Budget)
	}
	t.Logf("%d entries written (%d MiB); %d bytes kept in %d files", n, (Budget+1<<20)>>20, size, files)
}

// TestFileMode: the log is 0600, even when a wider file was there.
func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l := openLog(t, dir, 1024, 2)
	writeMany(t, l, 300, 4096, time.Now()) // rotated files too
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", e.Name(), fi.Mode().Perm())
		}
	}
}

// TestDiffMasksSecrets: a changed password shows as changed, masked on both sides; the hash
// never appears.
func TestDiffMasksSecrets(t *testing.T) {
	old := &avi.User{Meta: avi.Meta{Name: "bob", UUID: "user-1", LastModified: "1"}, Username: "bob", PasswordHash: "$2a$10$oldhash"}
	cur := &avi.User{Meta: avi.Meta{Name: "bob", UUID: "user-1", LastModified: "2"}, Username: "bob", PasswordHash: "$2a$10$newhash", IsSuperuser: true}
	d := Diff(old, cur)
	raw, _ := json.Marshal(d)
	if strings.Contains(string(raw), "$2a$") {
		t.Fatalf("diff shows a hash: %s", raw)
	}
	if string(d["password_hash"].Old) != `"<redacted>"` || string(d["password_hash"].New) != `"<redacted>"` {
		t.Errorf("password_hash: %s", raw)
	}
	if string(d["is_superuser"].Old) != "false" || string(d["is_superuser"].New) != "true" {
		t.Errorf("is_superuser: %s", raw)
	}
	for _, f := range []string{"username", "_last_modified", "uuid"} {
		if _, ok := d[f]; ok {
			t.Errorf("%s in the diff: %s", f, raw)
		}
	}
	// A creation shows every field as new.
	if c := Diff(nil, cur); string(c["password_hash"].New) != `"<redacted>"` || c["password_hash"].Old != nil {
		t.Errorf("creation: %v", c)
	}
}

// TestLargeEntry: an entry past MaxEntryBytes keeps the names of its changed fields, not their
// values.
func TestLargeEntry(t *testing.T) {
	l := openLog(t, t.TempDir(), MaxFileBytes, KeepFiles)
	big, _ := json.Marshal(strings.Repeat("s", MaxEntryBytes))
	if err := l.Write(Entry{Action: ActionUpdate, Diff: map[string]FieldChange{"servers": {New: big}}}); err != nil {
		t.Fatal(err)
	}
	_, page, err := l.Query(Filter{Page: 1, PageSize: 10})
	if err != nil || len(page) != 1 {
		t.Fatalf("%v %v", page, err)
	}
	if _, ok := page[0].Diff["servers"]; !ok || !page[0].DiffTruncated || page[0].Diff["servers"].New != nil {
		t.Errorf("large entry: %+v", page[0])
	}
}

// TestFilters: by user, kind, action and time, paged.
func TestFilters(t *testing.T) {
	l := openLog(t, t.TempDir(), MaxFileBytes, KeepFiles)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, e := range []Entry{
		{User: "a", Kind: "pool", Action: ActionCreate},
		{User: "b", Kind: "pool", Action: ActionUpdate},
		{User: "a", Kind: "virtualservice", Action: ActionCreate},
		{User: "a", Action: ActionLogin},
		{User: "a", Kind: "pool", Action: ActionDelete},
	} {
		e.Time = t0.Add(time.Duration(i) * time.Minute)
		if err := l.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		f    Filter
		want int
	}{
		{Filter{}, 5},
		{Filter{User: "a"}, 4},
		{Filter{User: "a", Kind: "pool"}, 2},
		{Filter{Action: ActionCreate}, 2},
		{Filter{Since: t0.Add(2 * time.Minute)}, 3},
		{Filter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, 3},
	} {
		c.f.Page, c.f.PageSize = 1, 1000
		total, page, err := l.Query(c.f)
		if err != nil || total != c.want || len(page) != c.want {
			t.Errorf("%+v: %d (%d on the page), want %d: %v", c.f, total, len(page), c.want, err)
		}
	}
	total, page, _ := l.Query(Filter{User: "a", Page: 2, PageSize: 3})
	if total != 4 || len(page) != 1 || page[0].Kind != "pool" || page[0].Action != ActionCreate {
		t.Errorf("page 2: %d %+v", total, page)
	}
}

// TestOverlongLineHidesNothing: a line past any size a reader might assume (written by an
// earlier version, which cut no field) hides neither itself nor the entries after it from a
// query.
func TestOverlongLineHidesNothing(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, MaxFileBytes, KeepFiles)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(i int, user string) {
		t.Helper()
		if err := l.Write(Entry{Time: t0.Add(time.Duration(i) * time.Second), User: user, Action: ActionLoginFailed, Status: 401}); err != nil {
			t.Fatal(err)
		}
	}
	write(0, "before")
	long, err := json.Marshal(Entry{Time: t0.Add(time.Second), User: strings.Repeat("u", 4*MaxEntryBytes), Action: ActionLoginFailed, Status: 401})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(append(long, '\n')); err != nil {
		t.Fatal(err)
	}
	f.Close()
	write(2, "after")
	total, page, err := l.Query(Filter{Page: 1, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(page) != 3 || page[0].User != "after" || len(page[1].User) != 4*MaxEntryBytes || page[2].User != "before" {
		t.Fatalf("%d entries: want after, the long one, before", total)
	}
}

// TestOversizedFieldsAreCut: an entry that stays over MaxEntryBytes without its diff values (a
// failed login's username is the sender's to choose, and escaping makes a control character
// six bytes) has each text field cut to MaxFieldBytes: it stays within MaxEntryBytes, and what
// it says begins as it did.
func TestOversizedFieldsAreCut(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, MaxFileBytes, KeepFiles)
	user, path := strings.Repeat("\x01", 60<<10), "/api/pool/"+strings.Repeat("é", 300<<10)
	if err := l.Write(Entry{User: user, Path: path, UUID: path, Action: ActionDelete, Status: 404,
		Diff: map[string]FieldChange{"name": {New: json.RawMessage(`"x"`)}}}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) >= MaxEntryBytes {
		t.Errorf("the entry takes %d bytes, want under %d", len(raw), MaxEntryBytes)
	}
	_, page, err := l.Query(Filter{Page: 1, PageSize: 10})
	if err != nil || len(page) != 1 {
		t.Fatalf("%d entries (%v), want 1", len(page), err)
	}
	e := page[0]
	for name, c := range map[string][2]string{"user": {e.User, user}, "path": {e.Path, path}, "uuid": {e.UUID, path}} {
		if len(c[0]) > MaxFieldBytes || len(c[0]) < MaxFieldBytes-1 || !strings.HasPrefix(c[1], c[0]) || !utf8.ValidString(c[0]) {
			t.Errorf("%s: %d bytes, want the first %d (at a character's start) of what was sent", name, len(c[0]), MaxFieldBytes)
		}
	}
	if e.Action != ActionDelete || e.Status != 404 || !e.DiffTruncated {
		t.Errorf("entry %+v: want the action, status and diff kept", e)
	}
	if _, ok := e.Diff["name"]; !ok {
		t.Errorf("the diff no longer names the changed field: %v", e.Diff)
	}
}

// TestQueryReadsWhatItOpened: a query holds the log only to open its files, so entries are
// written, and the log rotates through all its files, while it reads them; it still reads the
// log as it was when it opened them, every entry once.
func TestQueryReadsWhatItOpened(t *testing.T) {
	const maxBytes, keep = 8 << 10, 3
	l := openLog(t, t.TempDir(), maxBytes, keep)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := writeMany(t, l, 300, 2*maxBytes, start)
	files, err := l.openFiles()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFiles(files)
	writeMany(t, l, 300, 2*(keep+1)*maxBytes, start.Add(time.Hour))
	var got []time.Time
	for _, f := range files {
		lines, err := f.lines()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range lines {
			var e Entry
			if err := json.Unmarshal(line, &e); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			got = append(got, e.Time)
		}
	}
	if len(got) != n {
		t.Fatalf("%d entries read, %d were written before the files were opened", len(got), n)
	}
	for _, tm := range got {
		if !tm.Before(start.Add(time.Hour)) {
			t.Fatalf("an entry written after the files were opened was read: %v", tm)
		}
	}
}
