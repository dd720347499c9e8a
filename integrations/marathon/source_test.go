package marathon_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/avi-init/avi-init/integrations/marathon"
	"github.com/avi-init/avi-init/integrations/marathon/marathontest"
)

// list reads the apps once through src.
func list(t *testing.T, src *marathon.AppSource) []marathon.App {
	t.Helper()
	var got []marathon.App
	src.OnApps = func(_ context.Context, apps []marathon.App) { got = apps }
	if err := src.List(t.Context()); err != nil {
		t.Fatal(err)
	}
	return got
}

// healthy counts the healthy tasks of the apps.
func healthy(apps []marathon.App) int {
	n := 0
	for _, a := range apps {
		for i := range a.Tasks {
			if a.Healthy(&a.Tasks[i]) {
				n++
			}
		}
	}
	return n
}

func TestAppSourceKeepsHealthAcrossALeaderChange(t *testing.T) {
	s := marathontest.NewServer(t)
	def, err := os.ReadFile("testdata/marathon-docs_app.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddApp(def); err != nil {
		t.Fatal(err)
	}
	src := &marathon.AppSource{Client: newClient(t, nil, marathon.Endpoint{URL: s.URL})}
	if n := healthy(list(t, src)); n != 2 {
		t.Fatalf("%d healthy tasks, want 2", n)
	}
	// A new leader lists the tasks without results: they keep the last ones seen.
	s.DropHealthResults()
	if n := healthy(list(t, src)); n != 2 {
		t.Errorf("%d healthy tasks after the leader change, want 2", n)
	}
	// A result the leader does report is taken as it is.
	if err := s.SetTaskHealth("/foo", s.Tasks("/foo")[0], false); err != nil {
		t.Fatal(err)
	}
	if n := healthy(list(t, src)); n != 1 {
		t.Errorf("%d healthy tasks after one failed its check, want 1", n)
	}
}

func TestAppSourceWatchNotifiesOfChanges(t *testing.T) {
	s := marathontest.NewServer(t)
	src := &marathon.AppSource{Client: newClient(t, nil, marathon.Endpoint{URL: s.URL})}
	ctx, cancel := context.WithCancel(t.Context())
	notices := make(chan struct{}, 100)
	done := make(chan error)
	go func() { done <- src.Watch(ctx, func() { notices <- struct{}{} }) }()
	expectNotice := func(what string) {
		t.Helper()
		select {
		case <-notices:
		case <-time.After(5 * time.Second):
			t.Fatalf("no notice %s", what)
		}
	}
	expectNotice("when the stream attached")
	if _, err := s.AddApp([]byte(`{"id": "/web", "instances": 1}`)); err != nil {
		t.Fatal(err)
	}
	expectNotice("when an app was added")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch returned %v, want its context's end", err)
	}
}

func TestAppSourceNeedsClientAndCallback(t *testing.T) {
	if err := (&marathon.AppSource{}).List(t.Context()); err == nil {
		t.Error("a source without a client listed")
	}
	if err := (&marathon.AppSource{}).Watch(t.Context(), func() {}); err == nil {
		t.Error("a source without a client watched")
	}
}
