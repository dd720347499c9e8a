package dockercloud

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/avi-init/avi-init/integrations/docker"
	"github.com/avi-init/avi-init/integrations/sshdeploy"
)

// SocketPath is where a host's Docker engine listens.
const SocketPath = "/var/run/docker.sock"

// keepAliveInterval bounds how long a host that vanished keeps its event stream hanging.
const keepAliveInterval = 15 * time.Second

// SSH is the Connector that reaches a host's engine through an SSH connection made by d (host
// keys verified as for Linux server clouds) on port.
func SSH(d *sshdeploy.Deployer, port int) Connector { return sshConnector{d, port} }

type sshConnector struct {
	d    *sshdeploy.Deployer
	port int
}

func (s sshConnector) Connect(ctx context.Context, host, user, privateKey string) (Engine, error) {
	conn, err := s.d.DialKey(ctx, host, s.port, user, privateKey)
	if err != nil {
		return nil, err
	}
	cli, err := docker.ConnectVia(func(ctx context.Context) (net.Conn, error) { return conn.DialUnix(ctx, SocketPath) })
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("the Docker engine of %s: %w", host, err)
	}
	e := &sshEngine{Client: cli, conn: conn}
	kctx, cancel := context.WithCancel(context.Background())
	e.stopKeepAlive = cancel
	e.wg.Go(func() { _ = conn.KeepAlive(kctx, keepAliveInterval) })
	return e, nil
}

// sshEngine is an engine client over its own SSH connection, kept alive.
type sshEngine struct {
	*docker.Client
	conn          *sshdeploy.Conn
	stopKeepAlive context.CancelFunc
	wg            sync.WaitGroup
}

func (e *sshEngine) Close() error {
	e.stopKeepAlive()
	e.Client.Close()
	err := e.conn.Close()
	e.wg.Wait()
	return err
}
