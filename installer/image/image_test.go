package image

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

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
