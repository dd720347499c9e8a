// Package docker owns every call avi-init makes to the Docker engine. Nothing else in the
// project imports the Docker client; the rest accepts the Engine interface so its rules can be
// tested without an engine.
package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Engine is what avi-init needs from a container engine.
type Engine interface {
	Info(ctx context.Context) (Info, error)
	ImageExists(ctx context.Context, ref string) (bool, error)
	LoadImage(ctx context.Context, tarball io.Reader, progress io.Writer) error
	Container(ctx context.Context, name string) (*Container, error)
	Create(ctx context.Context, spec ContainerSpec) error
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string, timeout time.Duration) error
	Remove(ctx context.Context, name string) error
	Logs(ctx context.Context, name string, tail int, follow bool, w io.Writer) error
	Wait(ctx context.Context, name string) (int64, error)
	Close() error
}

// Info describes the engine.
type Info struct {
	APIVersion    string
	ServerVersion string
	RootDir       string
}

// Container is the part of a container's state avi-init reads.
type Container struct {
	ID       string
	Image    string
	Running  bool
	Status   string // created, running, exited, ...
	Health   string // starting, healthy, unhealthy, or "" without a health check
	ExitCode int
	Labels   map[string]string
	Started  time.Time
}

// ContainerSpec is one container, as Create makes it. Its JSON is what a dry run prints.
type ContainerSpec struct {
	Name        string            `json:"name"`
	Image       string            `json:"image"`
	Cmd         []string          `json:"cmd"`
	NanoCPUs    int64             `json:"nano_cpus"`
	MemoryBytes int64             `json:"memory_bytes"`
	Binds       []string          `json:"binds"` // host:container[:ro]
	Labels      map[string]string `json:"labels"`
	CapAdd      []string          `json:"cap_add"`
	Health      []string          `json:"health_check"` // command the engine runs to report health
	// RestartAlways is set when no systemd supervises the container.
	RestartAlways bool `json:"restart_always"`
}

// MinAPIVersion is the oldest engine API avi-init drives: the oldest the client negotiates down
// to (Docker 19.03, 2019), older than any engine a supported OS ships.
const MinAPIVersion = client.MinAPIVersion

// Client is the Engine backed by the Docker API.
type Client struct {
	api *client.Client
}

// Connect opens the engine named by DOCKER_HOST (default: the local socket). The client
// negotiates the API version on its first request, so that older engines work.
func Connect() (*Client, error) {
	api, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Client{api: api}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.api.Close() }

// Info pings the engine, negotiating the API version, and reports its version and storage root.
// An engine the client cannot speak to is an error that names its API version.
func (c *Client) Info(ctx context.Context) (Info, error) {
	ping, err := c.api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		if ping.APIVersion != "" {
			return Info{APIVersion: ping.APIVersion}, fmt.Errorf("docker engine API %s: %w", ping.APIVersion, err)
		}
		return Info{}, fmt.Errorf("reach docker engine: %w", err)
	}
	res, err := c.api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return Info{}, fmt.Errorf("docker engine info: %w", err)
	}
	return Info{APIVersion: ping.APIVersion, ServerVersion: res.Info.ServerVersion, RootDir: res.Info.DockerRootDir}, nil
}

// ImageExists reports whether ref is present in the engine.
func (c *Client) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := c.api.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return true, nil
}

// LoadImage streams a `docker save` style tarball into the engine, copying the engine's
// progress messages to progress.
func (c *Client) LoadImage(ctx context.Context, tarball io.Reader, progress io.Writer) error {
	resp, err := c.api.ImageLoad(ctx, tarball, client.ImageLoadWithQuiet(false))
	if err != nil {
		return fmt.Errorf("load image: %w", err)
	}
	defer resp.Close()
	dec := json.NewDecoder(resp)
	for {
		var msg struct {
			Stream      string `json:"stream"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("load image: read engine response: %w", err)
		}
		if msg.ErrorDetail != nil {
			return fmt.Errorf("load image: %s", msg.ErrorDetail.Message)
		}
		if s := strings.TrimSpace(msg.Stream); s != "" && progress != nil {
			fmt.Fprintln(progress, s)
		}
	}
}

// Container returns the named container's state, or nil when there is none.
func (c *Client) Container(ctx context.Context, name string) (*Container, error) {
	res, err := c.api.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", name, err)
	}
	in := res.Container
	out := &Container{ID: in.ID}
	if in.Config != nil {
		out.Image, out.Labels = in.Config.Image, in.Config.Labels
	}
	if st := in.State; st != nil {
		out.Running, out.Status, out.ExitCode = st.Running, string(st.Status), st.ExitCode
		if st.Health != nil {
			out.Health = string(st.Health.Status)
		}
		out.Started, _ = time.Parse(time.RFC3339Nano, st.StartedAt)
	}
	return out, nil
}

// Create creates the container described by spec, with every capability dropped but the ones
// it names, no new privileges, a read-only root file system and host networking.
func (c *Client) Create(ctx context.Context, spec ContainerSpec) error {
	cfg := &container.Config{
		Image:  spec.Image,
		Cmd:    spec.Cmd,
		Labels: spec.Labels,
		Healthcheck: &container.HealthConfig{
			Test:        append([]string{"CMD"}, spec.Health...),
			Interval:    2 * time.Second,
			Timeout:     2 * time.Second,
			Retries:     3,
			StartPeriod: 60 * time.Second,
		},
	}
	host := &container.HostConfig{
		Binds:          spec.Binds,
		NetworkMode:    "host",
		CapDrop:        []string{"ALL"},
		CapAdd:         spec.CapAdd,
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: true,
		Tmpfs:          map[string]string{"/tmp": "rw,nosuid,nodev,size=64m"},
		Resources: container.Resources{
			NanoCPUs:   spec.NanoCPUs,
			Memory:     spec.MemoryBytes,
			MemorySwap: spec.MemoryBytes, // no swap beyond the limit
		},
		LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "3"}},
	}
	if spec.RestartAlways {
		host.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
	}
	if _, err := c.api.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: host, Name: spec.Name}); err != nil {
		return fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	return nil
}

// Start starts the named container.
func (c *Client) Start(ctx context.Context, name string) error {
	if _, err := c.api.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", name, err)
	}
	return nil
}

// Stop stops the named container, killing it after timeout. A missing container is no error.
func (c *Client) Stop(ctx context.Context, name string, timeout time.Duration) error {
	secs := int(timeout / time.Second)
	_, err := c.api.ContainerStop(ctx, name, client.ContainerStopOptions{Timeout: &secs})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %s: %w", name, err)
	}
	return nil
}

// Remove removes the named container, running or not. A missing container is no error.
func (c *Client) Remove(ctx context.Context, name string) error {
	_, err := c.api.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	return nil
}

// Logs copies the container's output (the last tail lines; all when tail < 0) to w, following
// it until ctx ends when follow is set.
func (c *Client) Logs(ctx context.Context, name string, tail int, follow bool, w io.Writer) error {
	t := "all"
	if tail >= 0 {
		t = strconv.Itoa(tail)
	}
	r, err := c.api.ContainerLogs(ctx, name, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow, Tail: t})
	if err != nil {
		return fmt.Errorf("logs of container %s: %w", name, err)
	}
	defer r.Close()
	if _, err := stdcopy.StdCopy(w, w, r); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of container %s: %w", name, err)
	}
	return nil
}

// Wait blocks until the named container stops and returns its exit code.
func (c *Client) Wait(ctx context.Context, name string) (int64, error) {
	wait := c.api.ContainerWait(ctx, name, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-wait.Result:
		if res.Error != nil {
			return res.StatusCode, fmt.Errorf("wait for container %s: %s", name, res.Error.Message)
		}
		return res.StatusCode, nil
	case err := <-wait.Error:
		return -1, fmt.Errorf("wait for container %s: %w", name, err)
	}
}
