// Package contract is what the installer and the runtimes it installs agree on: the files in a
// role's data directory (names, the bootstrap token, the setup request, the certificate hash),
// the readiness probes, and the default ports. The installer imports this package, never a
// runtime, so it does not link the runtimes' store, metrics or netlink code.
package contract
