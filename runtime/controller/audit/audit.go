// Package audit is the controller's audit log: one JSON line per change made through the API,
// per login, logout, import, export and token minted, kept in the data directory within a fixed
// disk budget. Secrets never reach it: every secret field of a changed object is masked.
package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/avi-init/avi-init/model/avi"
)

// The file and its budget: the live file rotates when the next entry would take it past
// MaxFileBytes, and KeepFiles rotated files are kept (audit.log.1 the newest), so the log never
// takes more than Budget on disk.
const (
	FileName      = "audit.log"
	MaxFileBytes  = 4 << 20
	KeepFiles     = 5
	Budget        = (KeepFiles + 1) * MaxFileBytes // 24 MiB
	MaxEntryBytes = 64 << 10                       // an entry's diff values are dropped past this, then its text cut
	// MaxFieldBytes bounds each text field of an entry still over MaxEntryBytes without its diff
	// values: a failed login's username and a request's path are the sender's to choose.
	MaxFieldBytes = 1 << 10
	// Masked stands for a secret's value in a diff.
	Masked = "<redacted>"
	// MaxPageSize bounds a query's page.
	MaxPageSize = 1000
)

// Actions an entry records.
const (
	ActionCreate      = "create"
	ActionUpdate      = "update"
	ActionDelete      = "delete"
	ActionLogin       = "login"
	ActionLoginFailed = "login-failed"
	ActionLogout      = "logout"
	ActionImport      = "import"
	ActionExport      = "export"
	ActionToken       = "token"
)

// Entry is one audited event.
type Entry struct {
	Time    time.Time `json:"time"`
	User    string    `json:"user,omitempty"`
	TokenID string    `json:"token_id,omitempty"` // the API token the request authenticated with
	Client  string    `json:"client,omitempty"`   // the client's address
	Tenant  string    `json:"tenant,omitempty"`
	Method  string    `json:"method,omitempty"`
	Path    string    `json:"path,omitempty"`
	Kind    string    `json:"kind,omitempty"`
	UUID    string    `json:"uuid,omitempty"`
	Name    string    `json:"name,omitempty"`
	Action  string    `json:"action"`
	Status  int       `json:"status"`
	// Diff holds each top-level field that changed, secrets masked.
	Diff map[string]FieldChange `json:"diff,omitempty"`
	// DiffTruncated says the diff's values were dropped to keep the entry within MaxEntryBytes;
	// the changed fields are still named.
	DiffTruncated bool `json:"diff_truncated,omitempty"`
}

// FieldChange is one field's value before and after (absent: the field was not set).
type FieldChange struct {
	Old json.RawMessage `json:"old,omitempty"`
	New json.RawMessage `json:"new,omitempty"`
}

// bookkeeping are the fields every object has that the entry itself says (uuid) or that change
// with every write (_last_modified): a diff leaves them out.
var bookkeeping = map[string]bool{"uuid": true, "url": true, "_last_modified": true}

// Diff is what changed from old to new (either nil: a creation or a deletion), by top-level
// field, every secret of either masked. A secret that changed shows as changed, with both values
// masked.
func Diff(old, new avi.Object) map[string]FieldChange {
	rawOld, maskedOld := fields(old)
	rawNew, maskedNew := fields(new)
	out := map[string]FieldChange{}
	for _, m := range []map[string]json.RawMessage{rawOld, rawNew} {
		for k := range m {
			if _, done := out[k]; done || bookkeeping[k] || bytes.Equal(rawOld[k], rawNew[k]) {
				continue
			}
			out[k] = FieldChange{Old: maskedOld[k], New: maskedNew[k]}
		}
	}
	return out
}

// fields is an object's top-level fields as they are and with its secrets masked.
func fields(o avi.Object) (raw, masked map[string]json.RawMessage) {
	if o == nil {
		return nil, nil
	}
	data, err := json.Marshal(o)
	if err != nil {
		return nil, nil
	}
	json.Unmarshal(data, &raw)
	k, ok := avi.KindOf(o)
	info, known := k.Info()
	if !ok || !known {
		return raw, nil // nothing is shown of an object whose secrets are not known
	}
	cp := info.New()
	if err := json.Unmarshal(data, cp); err != nil {
		return raw, nil
	}
	for _, p := range cp.Secrets() {
		if *p != "" {
			*p = Masked
		}
	}
	mdata, _ := marshal(cp)
	json.Unmarshal(mdata, &masked)
	return raw, masked
}

// marshal encodes v without escaping <, > and &, so that Masked reads as itself in the file.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Log is the audit log file and its rotated predecessors.
type Log struct {
	mu       sync.Mutex
	path     string
	maxBytes int64
	keep     int
	f        *os.File
	size     int64
}

// Open opens (creating, 0600) the audit log in dir with the standard budget.
func Open(dir string) (*Log, error) { return OpenSized(dir, MaxFileBytes, KeepFiles) }

// OpenSized opens the audit log in dir rotating at maxBytes and keeping keep rotated files.
func OpenSized(dir string, maxBytes int64, keep int) (*Log, error) {
	l := &Log{path: filepath.Join(dir, FileName), maxBytes: maxBytes, keep: keep}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	// A file left by hand with a wider mode is narrowed: the log names users and addresses.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("audit log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit log: %w", err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Close closes the live file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// Write appends an entry, rotating first when it would take the file past its size. An entry
// larger than MaxEntryBytes keeps the names of its changed fields, not their values; one still
// larger has each text field cut to MaxFieldBytes, so that no sender fills the log's budget,
// and with it pushes out what was recorded before, in a few requests.
func (l *Log) Write(e Entry) error {
	line, err := marshal(e)
	if err != nil {
		return fmt.Errorf("audit entry: %w", err)
	}
	if len(line) >= MaxEntryBytes {
		for k := range e.Diff {
			e.Diff[k] = FieldChange{}
		}
		e.DiffTruncated = true
		if line, err = marshal(e); err != nil {
			return fmt.Errorf("audit entry: %w", err)
		}
	}
	if len(line) >= MaxEntryBytes {
		for _, f := range []*string{&e.User, &e.TokenID, &e.Client, &e.Tenant, &e.Path, &e.Kind, &e.UUID, &e.Name} {
			*f = cut(*f, MaxFieldBytes)
		}
		if line, err = marshal(e); err != nil {
			return fmt.Errorf("audit entry: %w", err)
		}
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size > 0 && l.size+int64(len(line)) > l.maxBytes {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// rotate moves audit.log to audit.log.1 (and each older file one further), dropping the oldest;
// the caller holds l.mu.
func (l *Log) rotate() error {
	l.f.Close()
	if err := os.Remove(l.rotated(l.keep)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("audit log rotation: %w", err)
	}
	for i := l.keep - 1; i >= 1; i-- {
		if err := os.Rename(l.rotated(i), l.rotated(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audit log rotation: %w", err)
		}
	}
	if err := os.Rename(l.path, l.rotated(1)); err != nil {
		return fmt.Errorf("audit log rotation: %w", err)
	}
	return l.open()
}

// cut is s cut to at most n bytes, at a character's start.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (l *Log) rotated(i int) string {
	if i == 0 {
		return l.path
	}
	return l.path + "." + strconv.Itoa(i)
}

// Filter selects entries: each non-empty field must match; Page counts from 1.
type Filter struct {
	User, Kind, Action string
	Since, Until       time.Time
	Page, PageSize     int
}

func (f Filter) match(e *Entry) bool {
	return (f.User == "" || e.User == f.User) && (f.Kind == "" || e.Kind == f.Kind) && (f.Action == "" || e.Action == f.Action) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) && (f.Until.IsZero() || !e.Time.After(f.Until))
}

// Query returns how many entries match f and the page of them it asks for, newest first,
// reading the rotated files too.
func (l *Log) Query(f Filter) (int, []Entry, error) {
	files, err := l.openFiles()
	if err != nil {
		return 0, nil, err
	}
	defer closeFiles(files)
	first := (f.Page - 1) * f.PageSize
	total, page := 0, []Entry{}
	for _, sf := range files {
		lines, err := sf.lines()
		if err != nil {
			return 0, nil, err
		}
		for j := len(lines) - 1; j >= 0; j-- {
			var e Entry
			if json.Unmarshal(lines[j], &e) != nil || !f.match(&e) {
				continue
			}
			if total >= first && len(page) < f.PageSize {
				page = append(page, e)
			}
			total++
		}
	}
	return total, page, nil
}

// openedFile is one of the log's files as a query found it: open, and its size then.
type openedFile struct {
	f    *os.File
	size int64
}

// openFiles opens the live file and the rotated ones, newest first, each with its size. Only
// this holds l.mu, not the reading, which would stall every audited request for as long as it
// takes to read the whole budget: an open file stays the same file through a rotation, and
// what is written after it was opened lies past its size.
func (l *Log) openFiles() ([]openedFile, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []openedFile
	for i := 0; i <= l.keep; i++ {
		o, err := openFile(l.rotated(i))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			closeFiles(out)
			return nil, fmt.Errorf("audit log: %w", err)
		}
		out = append(out, o)
	}
	return out, nil
}

// openFile opens the file at path, with its size now.
func openFile(path string) (openedFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return openedFile{}, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return openedFile{}, err
	}
	return openedFile{f: f, size: st.Size()}, nil
}

// closeFiles closes what openFiles opened.
func closeFiles(files []openedFile) {
	for _, o := range files {
		o.f.Close()
	}
}

// lines reads the file's lines up to its size, however long each is.
func (o openedFile) lines() ([][]byte, error) {
	data, err := io.ReadAll(io.LimitReader(o.f, o.size))
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if len(data) == 0 {
		return nil, nil
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")), nil
}
