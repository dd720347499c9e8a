package controller

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestUIFiles serves every embedded file of the web UI with its type, an ETag, and a 304 when the
// browser already has it.
func TestUIFiles(t *testing.T) {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		t.Fatal(err)
	}
	files, err := loadUI(sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"index.html", "app.js", "app.css", "favicon.svg"} {
		if _, ok := files[want]; !ok {
			t.Errorf("the embedded UI has no %s", want)
		}
	}
	h := uiHandler()
	get := func(target, etag string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		if etag != "" {
			r.Header.Set("If-None-Match", etag)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for name, f := range files {
		w := get("/"+name, "")
		if w.Code != http.StatusOK {
			t.Errorf("GET /%s: %d", name, w.Code)
			continue
		}
		if ct := w.Header().Get("Content-Type"); ct != uiTypes[path.Ext(name)] {
			t.Errorf("GET /%s: Content-Type %q, want %q", name, ct, uiTypes[path.Ext(name)])
		}
		if w.Body.String() != string(f.data) {
			t.Errorf("GET /%s: the body is not the embedded file", name)
		}
		etag := w.Header().Get("ETag")
		if etag == "" || w.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET /%s: ETag %q, Cache-Control %q: want an ETag and no-cache", name, etag, w.Header().Get("Cache-Control"))
			continue
		}
		if w := get("/"+name, etag); w.Code != http.StatusNotModified {
			t.Errorf("GET /%s with its ETag: %d, want 304", name, w.Code)
		}
	}
	if len(files) < 10 {
		t.Errorf("the embedded UI has %d files: the modules are missing", len(files))
	}

	for _, tc := range []struct {
		target string
		code   int
		ctype  string
	}{
		{"/", http.StatusOK, "text/html; charset=utf-8"},
		{"/lib/api.js", http.StatusOK, "text/javascript; charset=utf-8"},
		{"/pages/dashboard.js", http.StatusOK, "text/javascript; charset=utf-8"},
		{"/lib/", http.StatusNotFound, ""},
		{"/pages", http.StatusNotFound, ""},
		{"/missing.js", http.StatusNotFound, ""},
	} {
		w := get(tc.target, "")
		if w.Code != tc.code || (tc.ctype != "" && w.Header().Get("Content-Type") != tc.ctype) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.target, w.Code, w.Header().Get("Content-Type"), tc.code, tc.ctype)
		}
	}
	if a, b := get("/", "").Header().Get("ETag"), files["index.html"].etag; a != b {
		t.Errorf("GET / has ETag %s, index.html %s", a, b)
	}
}

// TestUIModules checks the module graph of the embedded UI as a browser links it: every file that
// index.html or a module names exists, and every name a module imports is exported.
func TestUIModules(t *testing.T) {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range moduleProblems(t, sub) {
		t.Error(p)
	}
}

// TestModuleProblems shows that moduleProblems finds what would break the page.
func TestModuleProblems(t *testing.T) {
	good := fstest.MapFS{
		"index.html":    {Data: []byte(`<link rel="stylesheet" href="app.css"><script type="module" src="app.js"></script>`)},
		"app.css":       {Data: []byte("body {}")},
		"app.js":        {Data: []byte("import { page } from './pages/page.js';\nimport './lib/side.js';\npage();\n")},
		"lib/dom.js":    {Data: []byte("export function h() {}\nexport const $ = 1;\n")},
		"lib/side.js":   {Data: []byte("import {\n  h,\n  $ as dollar,\n} from \"./dom.js\";\nh(dollar);\n")},
		"pages/page.js": {Data: []byte("import { h } from '../lib/dom.js';\nexport async function page() { h(); }\n")},
	}
	with := func(name, data string) fstest.MapFS {
		fsys := fstest.MapFS{}
		for k, v := range good {
			fsys[k] = v
		}
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
		return fsys
	}
	for _, tc := range []struct {
		name string
		fsys fs.FS
		want string // in the one problem found; none when empty
	}{
		{"good", good, ""},
		{"missing module", with("app.js", "import { page } from './pages/gone.js';\n"), "app.js imports ./pages/gone.js: no such file"},
		{"missing name", with("pages/page.js", "import { h, nope } from '../lib/dom.js';\nexport function page() {}\n"), "pages/page.js imports nope from ../lib/dom.js, which does not export it"},
		{"missing script", with("index.html", `<script type="module" src="main.js"></script>`), "index.html names main.js: no such file"},
		{"outside URL", with("pages/page.js", "import { h } from 'https://cdn.example/dom.js';\nexport function page() {}\n"), "not a relative path"},
		{"lib imports a page", with("lib/side.js", "import { page } from '../pages/page.js';\n"), "lib/side.js imports ../pages/page.js: lib/ imports only lib/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := moduleProblems(t, tc.fsys)
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("problems %q, want none", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
				t.Errorf("problems %q, want one containing %q", got, tc.want)
			}
		})
	}
}

var (
	// importRE matches a static import or re-export at the start of a line: its clause (the
	// names, possibly over several lines) and its specifier.
	importRE = regexp.MustCompile(`(?ms)^(?:import|export)\s+(?:([^'";]*?)\s*from\s*)?['"]([^'"]+)['"]`)
	// exportRE matches a declaration exported by name.
	exportRE     = regexp.MustCompile(`(?m)^export\s+(?:async\s+)?(?:function\*?|const|let|var|class)\s+([\w$]+)`)
	exportListRE = regexp.MustCompile(`(?m)^export\s*\{([^}]*)\}`)
	// htmlRefRE matches the files index.html names.
	htmlRefRE = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
)

// moduleProblems lists what would stop the UI in fsys from loading: a file index.html names that
// does not exist, an import of a file that does not exist or from elsewhere, an imported name its
// module does not export, and a lib/ module importing from outside lib/.
func moduleProblems(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	read := func(name string) string {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	exists := func(name string) bool {
		fi, err := fs.Stat(fsys, name)
		return err == nil && !fi.IsDir()
	}
	var problems []string
	for _, m := range htmlRefRE.FindAllStringSubmatch(read("index.html"), -1) {
		if !exists(m[1]) {
			problems = append(problems, "index.html names "+m[1]+": no such file")
		}
	}
	var modules []string
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && path.Ext(name) == ".js" {
			modules = append(modules, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(modules) == 0 {
		return []string{"no modules"}
	}
	for _, mod := range modules {
		for _, m := range importRE.FindAllStringSubmatch(read(mod), -1) {
			clause, spec := m[1], m[2]
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
				problems = append(problems, mod+" imports "+spec+": not a relative path to a file of the UI")
				continue
			}
			target := path.Join(path.Dir(mod), spec)
			if !exists(target) {
				problems = append(problems, mod+" imports "+spec+": no such file")
				continue
			}
			if strings.HasPrefix(mod, "lib/") && !strings.HasPrefix(target, "lib/") {
				problems = append(problems, mod+" imports "+spec+": lib/ imports only lib/")
			}
			exported := exportedNames(read(target))
			for _, name := range importedNames(clause) {
				if !slices.Contains(exported, name) {
					problems = append(problems, mod+" imports "+name+" from "+spec+", which does not export it")
				}
			}
		}
	}
	return problems
}

// importedNames are the names in the braces of an import clause, as the module exports them
// ("a as b" imports a).
func importedNames(clause string) []string {
	open, end := strings.Index(clause, "{"), strings.LastIndex(clause, "}")
	if open < 0 || end < open {
		return nil
	}
	var names []string
	for _, part := range strings.Split(clause[open+1:end], ",") {
		if f := strings.Fields(part); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// exportedNames are the names a module exports.
func exportedNames(src string) []string {
	var names []string
	for _, m := range exportRE.FindAllStringSubmatch(src, -1) {
		names = append(names, m[1])
	}
	for _, m := range exportListRE.FindAllStringSubmatch(src, -1) {
		for _, part := range strings.Split(m[1], ",") {
			if f := strings.Fields(part); len(f) > 0 {
				names = append(names, f[len(f)-1]) // "a as b" exports b
			}
		}
	}
	return names
}
