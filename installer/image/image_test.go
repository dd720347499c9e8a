package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/internal/version"
)

// A version string may hold what an image tag may not (a build's +metadata, a branch's /):
// Ref replaces it, so that every build names an image the engine accepts.
func TestRefIsAValidTag(t *testing.T) {
	defer func(v string) { version.Version = v }(version.Version)
	b := &Binary{sum: "0123456789abcdef0123"}
	for _, tt := range []struct{ version, want string }{
		{"1.2.3", "avi-init/se:1.2.3-0123456789ab"},
		{"v1.2.3-rc.1_x", "avi-init/se:v1.2.3-rc.1_x-0123456789ab"},
		{"1.2.3+dirty", "avi-init/se:1.2.3-dirty-0123456789ab"},
		{"feature/x y", "avi-init/se:feature-x-y-0123456789ab"},
	} {
		version.Version = tt.version
		got := b.Ref("se")
		if got != tt.want {
			t.Errorf("version %q: Ref = %q, want %q", tt.version, got, tt.want)
		}
		if _, err := name.NewTag(got); err != nil {
			t.Errorf("version %q: Ref %q is not a valid image reference: %v", tt.version, got, err)
		}
	}
}

// ReadBinary takes only what can run alone in an image: a statically linked ELF executable.
func TestReadBinary(t *testing.T) {
	for _, tt := range []struct {
		file, err string
	}{
		{"static.elf", ""},
		{"dynamic.elf", "dynamically linked"},
		{"not-elf.sh", "not an ELF binary"},
		{"missing", "no such file"},
	} {
		b, err := ReadBinary(filepath.Join("testdata", tt.file))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.file, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: err %v, want one saying %q", tt.file, err, tt.err)
		case tt.err == "":
			data, _ := os.ReadFile(filepath.Join("testdata", tt.file))
			sum := sha256.Sum256(data)
			if !bytes.Equal(b.Bytes(), data) || b.Sum() != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: Bytes or Sum do not match the file", tt.file)
			}
		}
	}
}

func readStatic(t *testing.T) *Binary {
	t.Helper()
	b, err := ReadBinary(filepath.Join("testdata", "static.elf"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The image runs the binary and nothing else: it is the entrypoint, the role is the command,
// and the one layer holds the binary and the directories it writes to.
func TestBuild(t *testing.T) {
	b := readStatic(t)
	for _, role := range []string{containerspec.RoleController, containerspec.RoleSE} {
		img, err := b.Build(role)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cfg.Config
		if fmt.Sprint(c.Entrypoint) != "[/avi-init]" || fmt.Sprint(c.Cmd) != "["+role+"]" || c.Labels[containerspec.Label] != role || cfg.OS != "linux" || !cfg.Created.Time.Equal(epoch) {
			t.Errorf("%s: config %+v created %v", role, c, cfg.Created)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("%s: %d layers, %v; want one", role, len(layers), err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]tar.Header{}
		contents := map[string][]byte{}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = *h
			contents[h.Name], _ = io.ReadAll(tr)
		}
		rc.Close()
		if h := files["avi-init"]; h.Mode != 0o755 || !bytes.Equal(contents["avi-init"], b.Bytes()) {
			t.Errorf("%s: the layer's avi-init is mode %o, %d bytes; want the binary, 0755", role, h.Mode, len(contents["avi-init"]))
		}
		if files["tmp/"].Mode != 0o1777 || files["vol/"].Typeflag != tar.TypeDir {
			t.Errorf("%s: layer directories %+v", role, files)
		}
	}
}

// The same binary builds the same image, so a re-run finds it in the engine and loads nothing.
func TestBuildIsReproducible(t *testing.T) {
	var digests []string
	for range 2 {
		img, err := readStatic(t).Build(containerspec.RoleSE)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of one binary: digests %v", digests)
	}
}

// WriteTarball writes what `docker load` reads: the image tagged with Ref.
func TestWriteTarball(t *testing.T) {
	b := readStatic(t)
	path := filepath.Join(t.TempDir(), "se.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WriteTarball(f, containerspec.RoleSE); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tag, err := name.NewTag(b.Ref(containerspec.RoleSE))
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("the tarball holds no image tagged %s: %v", tag, err)
	}
	want, _ := b.Build(containerspec.RoleSE)
	got, _ := img.Digest()
	if wd, _ := want.Digest(); got != wd {
		t.Errorf("tarball image %s, want %s", got, wd)
	}
}
