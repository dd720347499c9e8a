package sshdeploy

import (
	"context"
	"fmt"
	"net"
	"path"
	"time"
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

// KeepAlive asks the host every interval whether it is still there (OpenSSH's keepalive request)
// and, when no answer comes within interval, closes the connection: whatever waits on one of its
// channels (an engine's event stream) then ends, instead of hanging on a host that vanished
// without closing its TCP connection. It returns nil when ctx ends, or why it closed the
// connection. The caller closes the connection when done, which ends any request still waiting.
func (c *Conn) KeepAlive(ctx context.Context, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timeout := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			timeout.Stop()
			return nil
		case err := <-reply:
			timeout.Stop()
			if err != nil {
				c.client.Close()
				return fmt.Errorf("ssh keepalive to %s: %w", c.client.RemoteAddr(), err)
			}
		case <-timeout.C:
			c.client.Close()
			return fmt.Errorf("ssh keepalive: %s did not answer within %v; connection closed", c.client.RemoteAddr(), interval)
		}
	}
}
