package controller

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// The web UI: static files embedded in the binary, so pages need nothing from elsewhere. app.js
// is the entry module; it imports the shared parts in lib/ and one module per page in pages/.
//
//go:embed ui
var uiFiles embed.FS

// uiTypes are the Content-Types of the UI's files by extension, fixed here rather than read from
// the host's MIME table: a browser runs a module script only when it is served as JavaScript.
var uiTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// uiFile is one file of the UI as it is served.
type uiFile struct {
	data        []byte
	contentType string
	etag        string
}

// loadUI reads every file of fsys, with its Content-Type and an ETag from its content.
func loadUI(fsys fs.FS) (map[string]uiFile, error) {
	files := map[string]uiFile{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := uiTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("%s: no Content-Type for %q files", name, path.Ext(name))
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		files[name] = uiFile{data: data, contentType: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the web UI: %w", err)
	}
	return files, nil
}

func uiHandler() http.Handler {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded tree always has ui/
	}
	files, err := loadUI(sub)
	if err != nil {
		panic(err) // the embedded files are fixed at build time, and TestUIFiles reads them
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every page is the one-page app; it routes on the fragment.
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// Revalidated on every load and answered 304 while unchanged: a new binary's page never
		// runs with an old one's modules.
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Type", f.contentType)
		h.Set("ETag", f.etag)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
	})
}
