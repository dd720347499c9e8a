package supervise

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/installer/containerspec"
	"github.com/avi-init/avi-init/integrations/docker"
)

// fakeEngine runs one pretend container; exit closes it with a code.
type fakeEngine struct {
	mu    sync.Mutex
	calls []string
	exit  chan int64
}

func (f *fakeEngine) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeEngine) Calls() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, ",")
}

func (f *fakeEngine) Info(context.Context) (docker.Info, error)         { return docker.Info{}, nil }
func (f *fakeEngine) ImageExists(context.Context, string) (bool, error) { return true, nil }
func (f *fakeEngine) LoadImage(context.Context, io.Reader, io.Writer) error {
	return errors.New("not used")
}
func (f *fakeEngine) Container(context.Context, string) (*docker.Container, error) { return nil, nil }
func (f *fakeEngine) Create(_ context.Context, s docker.ContainerSpec) error {
	f.record("create " + s.Name + " cpus=" + map[bool]string{true: "ok", false: "wrong"}[s.NanoCPUs == 2e9])
	return nil
}
func (f *fakeEngine) Start(_ context.Context, n string) error { f.record("start " + n); return nil }
func (f *fakeEngine) Stop(_ context.Context, n string, _ time.Duration) error {
	f.record("stop " + n)
	return nil
}
func (f *fakeEngine) Remove(_ context.Context, n string) error { f.record("remove " + n); return nil }
func (f *fakeEngine) Logs(ctx context.Context, _ string, _ int, _ bool, w io.Writer) error {
	io.WriteString(w, "controller ready\n")
	<-ctx.Done()
	return nil
}
func (f *fakeEngine) Wait(ctx context.Context, _ string) (int64, error) {
	select {
	case code := <-f.exit:
		return code, nil
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}
func (f *fakeEngine) Close() error { return nil }

func settings() containerspec.Settings {
	return containerspec.Settings{Role: "controller", Image: "avi-init/controller:t", Cores: 2, MemoryMB: 1024,
		DataDir: "/data", ControllerIP: "192.0.2.10", HTTPSPort: 443, HTTPPort: 80, DNSPort: 53, SysintPort: 8443}
}

func TestNotifiesOnlyOnceReadyAndStopsOnCancel(t *testing.T) {
	eng := &fakeEngine{exit: make(chan int64, 1)}
	var mu sync.Mutex
	probes, notifiedAt := 0, -1
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Settings: settings(), Engine: eng, Logs: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			StartTimeout: 10 * time.Second,
			Ready: func(context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				probes++
				if probes < 3 {
					return errors.New("connection refused")
				}
				return nil
			},
			Notify: func() { mu.Lock(); notifiedAt = probes; mu.Unlock() },
		})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := notifiedAt
		mu.Unlock()
		if n >= 0 {
			if n != 3 {
				t.Errorf("notified after %d probes, want after the 3rd (the first to answer)", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never notified")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("stop: %v", err)
	}
	if got, want := eng.Calls(), "remove avicontroller,create avicontroller cpus=ok,start avicontroller,stop avicontroller,remove avicontroller"; got != want {
		t.Errorf("engine calls %q, want %q", got, want)
	}
}

func TestContainerExitIsAnError(t *testing.T) {
	eng := &fakeEngine{exit: make(chan int64, 1)}
	notified := false
	eng.exit <- 2
	err := Run(context.Background(), Config{
		Settings: settings(), Engine: eng, Logs: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		StartTimeout: 5 * time.Second,
		Ready:        func(context.Context) error { return errors.New("connection refused") },
		Notify:       func() { notified = true },
	})
	if err == nil || !strings.Contains(err.Error(), "exited with code 2") || notified {
		t.Fatalf("a container that exits before answering: err %v, notified %v", err, notified)
	}
}

func TestNoAnswerWithinStartTimeoutIsAnError(t *testing.T) {
	eng := &fakeEngine{exit: make(chan int64, 1)}
	notified := false
	err := Run(context.Background(), Config{
		Settings: settings(), Engine: eng, Logs: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		StartTimeout: 300 * time.Millisecond,
		Ready:        func(context.Context) error { return errors.New("connection refused") },
		Notify:       func() { notified = true },
	})
	if err == nil || !strings.Contains(err.Error(), "no answer within 300ms") || !strings.Contains(err.Error(), "connection refused") || notified {
		t.Fatalf("a container that never answers: err %v, notified %v; want the timeout and the last probe error", err, notified)
	}
	// Left in place so that its logs can be read; the next start replaces it.
	if got, want := eng.Calls(), "remove avicontroller,create avicontroller cpus=ok,start avicontroller"; got != want {
		t.Errorf("engine calls %q, want %q (no stop, no remove)", got, want)
	}
}

// TestExitedRunsWhenTheContainerDiesAfterReady: a container that dies on its own once ready has
// Exited run (the SE's VIPs are removed there) before the error that makes systemd restart it;
// a service stopped by systemd does not.
func TestExitedRunsWhenTheContainerDiesAfterReady(t *testing.T) {
	for _, dies := range []bool{true, false} {
		eng := &fakeEngine{exit: make(chan int64, 1)}
		exitedRuns := 0
		ctx, cancel := context.WithCancel(context.Background())
		notify := func() {
			if dies {
				eng.exit <- 137
			} else {
				cancel()
			}
		}
		err := Run(ctx, Config{
			Settings: settings(), Engine: eng, Logs: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			StartTimeout: 5 * time.Second, Ready: func(context.Context) error { return nil }, Notify: notify,
			Exited: func() { exitedRuns++ },
		})
		cancel()
		if dies && (exitedRuns != 1 || err == nil || !strings.Contains(err.Error(), "exited with code 137")) {
			t.Errorf("container died: Exited ran %d times, err %v; want once, and the exit as the error", exitedRuns, err)
		}
		if !dies && (exitedRuns != 0 || err != nil) {
			t.Errorf("service stopped: Exited ran %d times, err %v; want none and no error", exitedRuns, err)
		}
	}
}
