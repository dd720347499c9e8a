// Package image builds the controller and SE images from the running avi-init executable: one
// layer holding the binary, whose entrypoint is the binary itself. No daemon build and no
// registry: the result is written as a `docker save` tarball.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/internal/version"
)

// Binary is an avi-init executable read into memory once, with its content hash.
type Binary struct {
	data []byte
	sum  string
}

// ReadBinary reads the executable at path and checks it can run in an image with nothing else
// in it: it must be statically linked.
func ReadBinary(path string) (*Binary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read avi-init executable: %w", err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read avi-init executable %s: not an ELF binary: %w", path, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("avi-init executable %s is dynamically linked; build it with CGO_ENABLED=0 so it runs in its own image", path)
		}
	}
	sum := sha256.Sum256(data)
	return &Binary{data: data, sum: hex.EncodeToString(sum[:])}, nil
}

// Sum is the binary's SHA-256, hex.
func (b *Binary) Sum() string { return b.sum }

// Bytes is the binary's content.
func (b *Binary) Bytes() []byte { return b.data }

// Ref names the role's image. The tag carries the binary's hash, so an image already in the
// engine is the one this binary would build, and loading can be skipped.
func (b *Binary) Ref(role string) string {
	return fmt.Sprintf("avi-init/%s:%s-%s", role, tagSafe.ReplaceAllString(version.Version, "-"), b.sum[:12])
}

// tagSafe matches what an image tag may not hold.
var tagSafe = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// epoch dates the layer and config so that the same binary always builds the same image.
var epoch = time.Unix(0, 0).UTC()

// Build returns the role's image.
func (b *Binary) Build(role string) (v1.Image, error) {
	layer, err := tarball.LayerFromOpener(b.layerTar, tarball.WithCompressionLevel(gzip.NoCompression), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("build %s image layer: %w", role, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("build %s image: %w", role, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("build %s image config: %w", role, err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS, cfg.Created = runtime.GOARCH, "linux", v1.Time{Time: epoch}
	cfg.Config.Entrypoint = []string{containerspec.BinaryInImage}
	cfg.Config.Cmd = []string{role}
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = []string{"PATH=/"}
	cfg.Config.Labels = map[string]string{
		containerspec.Label:                role,
		"org.opencontainers.image.version": version.Version,
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("build %s image config: %w", role, err)
	}
	return img, nil
}

// layerTar is the image's only layer: the binary and the empty directories it writes to.
func (b *Binary) layerTar() (io.ReadCloser, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []struct {
		name string
		mode int64
	}{{"tmp/", 0o1777}, {"vol/", 0o755}}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: containerspec.BinaryInImage[1:], Mode: 0o755, Size: int64(len(b.data)), ModTime: epoch}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(b.data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return io.NopCloser(&buf), nil
}

// WriteTarball writes the role's image as a tarball that `docker load` accepts.
func (b *Binary) WriteTarball(w io.Writer, role string) error {
	img, err := b.Build(role)
	if err != nil {
		return err
	}
	tag, err := name.NewTag(b.Ref(role))
	if err != nil {
		return fmt.Errorf("image tag %s: %w", b.Ref(role), err)
	}
	if err := tarball.Write(tag, img, w); err != nil {
		return fmt.Errorf("write %s image: %w", role, err)
	}
	return nil
}
