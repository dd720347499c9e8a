package sshdeploy

import (
	"context"
	"fmt"
	"net"
	"path"
)

// DialUnix opens a stream to the unix socket at socketPath on the host, through the SSH
// connection (OpenSSH's direct-streamlocal channel), so that a host's local-only API — the
// Docker engine's — is used without exposing it on the network. The host's sshd must allow it
// (AllowStreamLocalForwarding, on by default) and the SSH user must be allowed to open the
// socket. Each call opens a channel of its own; the connection carries many at once.
func (c *Conn) DialUnix(ctx context.Context, socketPath string) (net.Conn, error) {
	if !path.IsAbs(socketPath) {
		return nil, fmt.Errorf("unix socket %q: want an absolute path", socketPath)
	}
	nc, err := c.client.DialContext(ctx, "unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("open %s on the host through SSH: %w", socketPath, err)
	}
	return nc, nil
}
