// Package version holds the build's version, set with -ldflags "-X .../version.Version=...".
package version

// Version is the release this binary was built as.
var Version = "dev"
