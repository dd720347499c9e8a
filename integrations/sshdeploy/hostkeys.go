package sshdeploy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/avi-init/avi-init/internal/atomicfile"
)

// HostKeys remembers the key each host presented first (trust on first use). Hosts are named
// as knownhosts.Normalize names them: "addr" on port 22, "[addr]:port" otherwise.
type HostKeys interface {
	// Lookup returns the key recorded for host, or nil when none is.
	Lookup(host string) (ssh.PublicKey, error)
	// Record keeps key as host's key.
	Record(host string, key ssh.PublicKey) error
}

// HostKeyChangedError is a host presenting a key other than the one recorded: it may have been
// reinstalled, or someone is in the middle. The connection is refused either way.
type HostKeyChangedError struct {
	Host                string
	Recorded, Presented string // SHA256 fingerprints
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("host key of %s changed: recorded %s, the host now presents %s; connection refused "+
		"(if the host was reinstalled, remove it from the cloud and add it again to accept its new key)", e.Host, e.Recorded, e.Presented)
}

// Fingerprint is a key's SHA256 fingerprint as OpenSSH prints it.
func Fingerprint(key ssh.PublicKey) string { return ssh.FingerprintSHA256(key) }

// KnownHostsFile is a HostKeys kept in an OpenSSH known_hosts file, so that an operator can read
// it with the usual tools and recorded keys survive restarts.
type KnownHostsFile struct {
	path string
	mu   sync.Mutex
}

// NewKnownHostsFile uses the known_hosts file at path, created on the first Record.
func NewKnownHostsFile(path string) *KnownHostsFile { return &KnownHostsFile{path: path} }

type knownLine struct {
	hosts []string
	key   ssh.PublicKey
}

// read parses the file; a missing file holds no keys.
func (f *KnownHostsFile) read() ([]knownLine, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read known hosts: %w", err)
	}
	var out []knownLine
	for len(bytes.TrimSpace(data)) > 0 {
		_, hosts, key, _, rest, err := ssh.ParseKnownHosts(data)
		if err != nil {
			return nil, fmt.Errorf("parse known hosts %s: %w", f.path, err)
		}
		out = append(out, knownLine{hosts, key})
		data = rest
	}
	return out, nil
}

func (f *KnownHostsFile) write(lines []knownLine) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(knownhosts.Line(l.hosts, l.key) + "\n")
	}
	return atomicfile.Write(f.path, []byte(b.String()), 0o600)
}

// Lookup returns the key recorded for host.
func (f *KnownHostsFile) Lookup(host string) (ssh.PublicKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines, err := f.read()
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		for _, h := range l.hosts {
			if h == host {
				return l.key, nil
			}
		}
	}
	return nil, nil
}

// Fingerprint is the SHA256 fingerprint of the key recorded for host, or "" when none is.
func (f *KnownHostsFile) Fingerprint(host string) (string, error) {
	k, err := f.Lookup(host)
	if err != nil || k == nil {
		return "", err
	}
	return Fingerprint(k), nil
}

// Record keeps key as host's key, replacing any other.
func (f *KnownHostsFile) Record(host string, key ssh.PublicKey) error {
	return f.update(host, key)
}

// Forget drops host's key: a host removed from the cloud and added again is trusted anew.
func (f *KnownHostsFile) Forget(host string) error {
	return f.update(host, nil)
}

func (f *KnownHostsFile) update(host string, key ssh.PublicKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines, err := f.read()
	if err != nil {
		return err
	}
	kept := lines[:0]
	for _, l := range lines {
		var hosts []string
		for _, h := range l.hosts {
			if h != host {
				hosts = append(hosts, h)
			}
		}
		if len(hosts) > 0 {
			kept = append(kept, knownLine{hosts, l.key})
		}
	}
	if key != nil {
		kept = append(kept, knownLine{[]string{host}, key})
	}
	return f.write(kept)
}
