package installer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/installer/image"
)

// ImageSaveUsage is `avi-init image save --help`.
const ImageSaveUsage = `Usage: avi-init image save --role controller|se -o FILE

Writes the role's image, built from this avi-init binary, as a tarball that 'docker load' accepts.
`

// ImageSave runs `avi-init image save`. The tarball appears at its path only once complete.
func ImageSave(args []string, executable string, out io.Writer) error {
	fs := pflag.NewFlagSet("avi-init image save", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	role := fs.String("role", "", "controller or se")
	file := fs.StringP("output", "o", "", "tarball to write")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usagef("image save: %v", err)
	}
	if *role != containerspec.RoleController && *role != containerspec.RoleSE {
		return usagef("image save: --role %q: want controller or se", *role)
	}
	if *file == "" || fs.NArg() > 0 {
		return usagef("image save: give the tarball to write with -o FILE")
	}
	bin, err := image.ReadBinary(executable)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(*file), "."+filepath.Base(*file)+".*")
	if err != nil {
		return fmt.Errorf("image save: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := bin.WriteTarball(tmp, *role); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("image save: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("image save: %w", err)
	}
	if err := os.Rename(tmp.Name(), *file); err != nil {
		return fmt.Errorf("image save: %w", err)
	}
	fmt.Fprintf(out, "wrote %s (%s)\n", *file, bin.Ref(*role))
	return nil
}
