// Package testimage packs a Go command of the end-to-end tests (e2e/backend) into an image in
// the machine's Docker engine: built statically, packed by the image package as avi-init's own
// images are, and tagged by the binary's hash, so that a second run finds it and nothing is
// ever pulled.
package testimage

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/avi-init/avi-init/installer/image"
)

// Build builds the command in pkgDir (a path go build accepts, relative to the working
// directory) and returns the image reference repo:<hash>, loading the image if the engine lacks it.
func Build(pkgDir, repo string) (string, error) {
	dir, err := os.MkdirTemp("", "avie2e-image")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	name := filepath.Base(pkgDir)
	bin := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, pkgDir)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkgDir, err, out)
	}
	b, err := image.ReadBinary(bin)
	if err != nil {
		return "", err
	}
	ref := repo + ":" + b.Sum()[:12]
	if exec.Command("docker", "image", "inspect", ref).Run() == nil {
		return ref, nil
	}
	tarball := filepath.Join(dir, name+".tar")
	f, err := os.Create(tarball)
	if err != nil {
		return "", err
	}
	err = b.WriteTarball(f, name)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write the %s image: %w", name, err)
	}
	// The tarball names the image as an avi-init role's; the tests' image gets a name of its own.
	for _, args := range [][]string{{"load", "-i", tarball}, {"tag", b.Ref(name), ref}, {"rmi", b.Ref(name)}} {
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return ref, nil
}
