package sshdeploy

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testServer is an SSH server on 127.0.0.1 that forwards to unix sockets and runs exec
// requests with /bin/sh, as the current user, in a home directory of its own and with bin first
// on PATH (where tests put a fake sudo). It records every command it was asked to run.
type testServer struct {
	port int
	home string
	bin  string

	mu       sync.Mutex
	commands []string
}

// startServer serves with hostKey, letting in only the client key authorized.
func startServer(t *testing.T, hostKey ssh.Signer, authorized ssh.PublicKey) *testServer {
	t.Helper()
	srv := &testServer{home: t.TempDir(), bin: t.TempDir()}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(authorized.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	cfg.AddHostKey(hostKey)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.port = l.Addr().(*net.TCPAddr).Port
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				srv.serveConn(nc, cfg)
			}()
		}
	}()
	return srv
}

func (srv *testServer) serveConn(nc net.Conn, cfg *ssh.ServerConfig) {
	defer nc.Close()
	_, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for nch := range chans {
		if nch.ChannelType() == streamLocalChannel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveStreamLocal(nch)
			}()
			continue
		}
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "sessions and unix sockets only")
			continue
		}
		ch, chReqs, err := nch.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv.serveSession(ch, chReqs)
		}()
	}
}

func (srv *testServer) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		var exec struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &exec); err != nil {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		srv.mu.Lock()
		srv.commands = append(srv.commands, exec.Command)
		srv.mu.Unlock()
		status := srv.run(exec.Command, ch)
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
		return
	}
}

func (srv *testServer) run(command string, ch ssh.Channel) int {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = srv.home
	cmd.Env = []string{"HOME=" + srv.home, "PATH=" + srv.bin + ":/usr/local/bin:/usr/bin:/bin"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 255
	}
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	if err := cmd.Start(); err != nil {
		return 127
	}
	go func() {
		io.Copy(stdin, ch)
		stdin.Close()
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		return 255
	}
	return 0
}

// Commands returns every command run so far.
func (srv *testServer) Commands() []string {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return append([]string(nil), srv.commands...)
}

// script writes an executable shell script named name into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// passSudo is a sudo that lets every -n command through, as the current user.
const passSudo = `[ "$1" = -n ] || { echo "sudo: want -n" >&2; exit 1; }; shift; exec "$@"`
