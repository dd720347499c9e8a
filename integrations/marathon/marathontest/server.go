// Package marathontest is a Marathon stand-in for tests: an httptest server on loopback that
// speaks the part of Marathon's REST API the integration uses. It serves an app list with
// tasks (GET /v2/apps?embed=apps.tasks) and an event stream (GET /v2/events), takes app
// definitions (POST /v2/apps), scaling (PUT /v2/apps/<id> {"instances": n}), deletions
// (DELETE /v2/apps/<id>) and task kills (DELETE /v2/apps/<id>/tasks/<task>), and emits the
// events Marathon would. A test drives it through the same operations as methods, and can make
// it require credentials, redirect to a leader, or let its streams go silent.
//
// Apps keep every field they were given, so real payloads are served as they were recorded.
package marathontest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avi-init/avi-init/integrations/marathon"
)

// Launcher places a new task of an app with the given number of ports: it returns the agent
// host and the task's host ports. It runs with the server locked and must not call it.
type Launcher func(appID string, ports int) (host string, hostPorts []int)

// Server is a running Marathon stand-in.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:<port>.
	URL string

	srv  *httptest.Server
	done chan struct{}

	mu          sync.Mutex
	apps        []*app
	auth        string // the Authorization header wanted; empty for none
	leader      string // when set, every request is redirected there
	keepAlive   time.Duration
	launch      Launcher
	subs        map[*subscriber]bool
	requests    map[string]int
	serial      int // task IDs and versions
	servicePort int
	hostPort    int
}

type app struct {
	id    string
	def   map[string]any // the definition, without tasks
	tasks []map[string]any
}

type subscriber struct {
	ch     chan []byte
	types  map[string]bool // empty: every type
	silent chan struct{}   // closed when the stream should go silent
	once   sync.Once
}

// NewServer starts a server with no apps; it closes when the test ends.
func NewServer(t testing.TB) *Server {
	s := &Server{
		done:        make(chan struct{}),
		subs:        map[*subscriber]bool{},
		requests:    map[string]int{},
		servicePort: 10000,
		hostPort:    31000,
	}
	s.launch = s.localLaunch
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/apps", s.getApps)
	mux.HandleFunc("POST /v2/apps", s.postApp)
	mux.HandleFunc("PUT /v2/apps/{id...}", s.putApp)
	mux.HandleFunc("DELETE /v2/apps/{id...}", s.deleteApp)
	mux.HandleFunc("GET /v2/events", s.events)
	s.srv = httptest.NewServer(s.gate(mux))
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close ends the event streams and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.mu.Unlock()
	s.srv.Close()
}

// RequireBasicAuth makes every request need these credentials.
func (s *Server) RequireBasicAuth(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// RequireToken makes every request need this DC/OS token.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = "token=" + token
}

// RedirectTo makes the server a non-leader that redirects every request to leaderURL, as a
// standby Marathon does; "" makes it answer again.
func (s *Server) RedirectTo(leaderURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leader = leaderURL
}

// SetKeepAlive makes event streams attached from now on send a comment every d, as Marathon
// does; 0 (the default) sends none.
func (s *Server) SetKeepAlive(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keepAlive = d
}

// SetLauncher places new tasks; by default they run on 127.0.0.1 with made-up ports.
func (s *Server) SetLauncher(l Launcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.launch = l
}

// Silence makes the streams attached now send nothing more while staying open, like a
// connection whose peer vanished. Streams attached later work.
func (s *Server) Silence() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		sub.once.Do(func() { close(sub.silent) })
	}
}

// Streams is the number of event streams attached.
func (s *Server) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// Requests is how many requests reached path (after authentication), such as "/v2/apps".
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// LoadAppList replaces the apps with those of a GET /v2/apps response, tasks included,
// without events.
func (s *Server) LoadAppList(data []byte) error {
	var list struct {
		Apps []map[string]any `json:"apps"`
	}
	if err := decode(data, &list); err != nil {
		return fmt.Errorf("app list: %w", err)
	}
	var apps []*app
	for i, def := range list.Apps {
		id, _ := def["id"].(string)
		if id == "" {
			return fmt.Errorf("app list: apps[%d] has no id", i)
		}
		var tasks []map[string]any
		if raw, ok := def["tasks"].([]any); ok {
			for _, t := range raw {
				if m, ok := t.(map[string]any); ok {
					tasks = append(tasks, m)
				}
			}
		}
		delete(def, "tasks")
		apps = append(apps, &app{id: id, def: def, tasks: tasks})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps = apps
	return nil
}

// AddApp creates an app from a definition, as POST /v2/apps does: service ports left at 0 are
// assigned, instances tasks (1 by default) start, healthy at once, and the events follow.
func (s *Server) AddApp(definition []byte) (string, error) {
	var def map[string]any
	if err := decode(definition, &def); err != nil {
		return "", fmt.Errorf("app definition: %w", err)
	}
	id, _ := def["id"].(string)
	if id == "" {
		return "", errors.New("app definition: no id")
	}
	if !strings.HasPrefix(id, "/") {
		id = "/" + id
		def["id"] = id
	}
	delete(def, "tasks")
	instances := 1
	if n, ok := number(def["instances"]); ok {
		instances = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.find(id) != nil {
		return "", fmt.Errorf("app %s already exists", id)
	}
	s.assignServicePorts(def)
	a := &app{id: id, def: def}
	s.apps = append(s.apps, a)
	s.emit("api_post_event", map[string]any{"clientIp": "127.0.0.1", "uri": "/v2/apps", "appDefinition": def})
	s.scale(a, instances)
	s.emit("deployment_success", map[string]any{"id": s.nextID(), "plan": map[string]any{"target": map[string]any{"apps": []any{def}}}})
	return id, nil
}

// Scale sets an app's number of tasks, starting or killing tasks as Marathon does.
func (s *Server) Scale(appID string, instances int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(appID)
	if a == nil {
		return fmt.Errorf("no app %s", appID)
	}
	a.def["instances"] = instances
	s.scale(a, instances)
	s.emit("deployment_step_success", map[string]any{"plan": map[string]any{"id": s.nextID()}})
	s.emit("deployment_success", map[string]any{"id": s.nextID()})
	return nil
}

// KillTask kills one task; Marathon starts a replacement, and so does the server.
func (s *Server) KillTask(appID, taskID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(appID)
	if a == nil {
		return fmt.Errorf("no app %s", appID)
	}
	i := slices.IndexFunc(a.tasks, func(t map[string]any) bool { return t["id"] == taskID })
	if i < 0 {
		return fmt.Errorf("app %s has no task %s", appID, taskID)
	}
	killed := a.tasks[i]
	a.tasks = slices.Delete(a.tasks, i, i+1)
	s.statusUpdate(a, killed, "TASK_KILLED")
	s.startTask(a)
	return nil
}

// DeleteApp removes an app and its tasks.
func (s *Server) DeleteApp(appID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(appID)
	if a == nil {
		return fmt.Errorf("no app %s", appID)
	}
	s.apps = slices.DeleteFunc(s.apps, func(b *app) bool { return b == a })
	for _, t := range a.tasks {
		s.statusUpdate(a, t, "TASK_KILLED")
	}
	s.emit("app_terminated_event", map[string]any{"appId": a.id})
	return nil
}

// SetTaskHealth sets the result of each of a task's health checks.
func (s *Server) SetTaskHealth(appID, taskID string, alive bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(appID)
	if a == nil {
		return fmt.Errorf("no app %s", appID)
	}
	for _, t := range a.tasks {
		if t["id"] == taskID {
			t["healthCheckResults"] = healthResults(a, taskID, alive)
			s.emit("health_status_changed_event", map[string]any{"appId": a.id, "taskId": taskID, "alive": alive})
			return nil
		}
	}
	return fmt.Errorf("app %s has no task %s", appID, taskID)
}

// DropHealthResults removes every task's health results without an event, as a new leader
// shows them until it has checked the tasks again.
func (s *Server) DropHealthResults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.apps {
		for _, t := range a.tasks {
			delete(t, "healthCheckResults")
		}
	}
}

// Tasks lists the IDs of an app's tasks.
func (s *Server) Tasks(appID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	if a := s.find(appID); a != nil {
		for _, t := range a.tasks {
			id, _ := t["id"].(string)
			ids = append(ids, id)
		}
	}
	return ids
}

func (s *Server) find(id string) *app {
	for _, a := range s.apps {
		if a.id == id {
			return a
		}
	}
	return nil
}

func (s *Server) nextID() string {
	s.serial++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", s.serial, s.serial)
}

// assignServicePorts gives every port left at 0 a service port, from 10000 up as Marathon does.
func (s *Server) assignServicePorts(def map[string]any) {
	assign := func(list any, field string) {
		items, _ := list.([]any)
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			if n, _ := number(m[field]); n == 0 {
				m[field] = s.servicePort
				s.servicePort++
			}
		}
	}
	if c, ok := def["container"].(map[string]any); ok {
		assign(c["portMappings"], "servicePort")
		if d, ok := c["docker"].(map[string]any); ok {
			assign(d["portMappings"], "servicePort")
		}
	}
	assign(def["portDefinitions"], "port")
}

func (s *Server) scale(a *app, instances int) {
	for len(a.tasks) > instances {
		last := a.tasks[len(a.tasks)-1]
		a.tasks = a.tasks[:len(a.tasks)-1]
		s.statusUpdate(a, last, "TASK_KILLED")
	}
	for len(a.tasks) < instances {
		s.startTask(a)
	}
}

// startTask launches a task, running and, when the app has health checks, healthy.
func (s *Server) startTask(a *app) {
	var parsed marathon.App
	raw, _ := json.Marshal(a.def)
	_ = json.Unmarshal(raw, &parsed)
	host, ports := s.launch(a.id, len(parsed.PortList()))
	id := strings.ReplaceAll(strings.TrimPrefix(a.id, "/"), "/", "_") + "." + s.nextID()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	t := map[string]any{
		"id": id, "appId": a.id, "host": host, "ports": ports, "state": "TASK_RUNNING",
		"stagedAt": now, "startedAt": now, "slaveId": "agent-" + host, "version": now,
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		t["ipAddresses"] = []any{map[string]any{"ipAddress": addr.String(), "protocol": "IPv4"}}
	}
	if len(parsed.HealthChecks) > 0 {
		t["healthCheckResults"] = healthResults(a, id, true)
	}
	a.tasks = append(a.tasks, t)
	s.statusUpdate(a, t, "TASK_RUNNING")
	if len(parsed.HealthChecks) > 0 {
		s.emit("health_status_changed_event", map[string]any{"appId": a.id, "taskId": id, "alive": true})
	}
}

// localLaunch places tasks on 127.0.0.1 with host ports from 31000 up, which nothing listens
// on. It runs with s.mu held.
func (s *Server) localLaunch(_ string, ports int) (string, []int) {
	out := make([]int, ports)
	for i := range out {
		out[i] = s.hostPort
		s.hostPort++
	}
	return "127.0.0.1", out
}

func healthResults(a *app, taskID string, alive bool) []any {
	checks, _ := a.def["healthChecks"].([]any)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var out []any
	for range checks {
		r := map[string]any{"alive": alive, "consecutiveFailures": 0, "taskId": taskID, "lastSuccess": now, "lastFailure": nil}
		if !alive {
			r["consecutiveFailures"], r["lastSuccess"], r["lastFailure"] = 1, nil, now
		}
		out = append(out, r)
	}
	return out
}

func (s *Server) statusUpdate(a *app, t map[string]any, status string) {
	s.emit("status_update_event", map[string]any{
		"appId": a.id, "taskId": t["id"], "taskStatus": status, "host": t["host"], "ports": t["ports"],
		"slaveId": t["slaveId"], "version": t["version"],
	})
}

// emit sends an event to the attached streams that want its type. A stream that cannot keep
// up loses events, as a slow Marathon subscriber does.
func (s *Server) emit(eventType string, fields map[string]any) {
	fields["eventType"] = eventType
	fields["timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	data, _ := json.Marshal(fields) // values decoded from JSON or made here: they encode
	msg := fmt.Appendf(nil, "event: %s\ndata: %s\n\n", eventType, data)
	for sub := range s.subs {
		if len(sub.types) > 0 && !sub.types[eventType] {
			continue
		}
		select {
		case sub.ch <- msg:
		default:
		}
	}
}

// number reads an integer from decoded JSON.
func number(v any) (int, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case int:
		return n, true
	}
	return 0, false
}

func decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keeps numbers as recorded
	return dec.Decode(v)
}

// gate redirects to the leader, checks credentials and counts requests, as Marathon's filters
// do before its handlers.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		leader, auth := s.leader, s.auth
		s.mu.Unlock()
		if leader != "" {
			http.Redirect(w, r, leader+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
		if auth != "" && r.Header.Get("Authorization") != auth {
			w.Header().Set("WWW-Authenticate", `Basic realm="Mesosphere"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Invalid username or password."})
			return
		}
		s.mu.Lock()
		s.requests[r.URL.Path]++
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) getApps(w http.ResponseWriter, r *http.Request) {
	withTasks := slices.Contains(r.URL.Query()["embed"], "apps.tasks")
	s.mu.Lock()
	list := make([]map[string]any, 0, len(s.apps))
	for _, a := range s.apps {
		m := map[string]any{}
		for k, v := range a.def {
			m[k] = v
		}
		if withTasks {
			m["tasks"] = a.tasks
		}
		list = append(list, m)
	}
	// Encoded under the lock: the maps are shared with the test's changes.
	body, err := json.Marshal(map[string]any{"apps": list})
	s.mu.Unlock()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"message": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (s *Server) postApp(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": err.Error()})
		return
	}
	id, err := s.AddApp(body)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id})
}

func (s *Server) putApp(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Instances *int `json:"instances"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Instances == nil || *req.Instances < 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "this server only scales: want {\"instances\": n}"})
		return
	}
	if err := s.Scale("/"+r.PathValue("id"), *req.Instances); err != nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deploymentId": "scale", "version": time.Now().UTC().Format(time.RFC3339Nano)})
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) {
	path := "/" + r.PathValue("id")
	var err error
	if appID, taskID, ok := strings.Cut(path, "/tasks/"); ok {
		err = s.KillTask(appID, taskID)
	} else {
		err = s.DeleteApp(path)
	}
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deploymentId": "delete"})
}

// events serves the event stream: event_stream_attached first, then the events of the types
// asked for with event_type parameters (every type without), with keepalive comments.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		writeJSON(w, http.StatusNotAcceptable, map[string]any{"message": "Accept: text/event-stream is required"})
		return
	}
	sub := &subscriber{ch: make(chan []byte, 256), types: map[string]bool{}, silent: make(chan struct{})}
	for _, t := range r.URL.Query()["event_type"] {
		sub.types[t] = true
	}
	s.mu.Lock()
	s.subs[sub] = true
	keepAlive := s.keepAlive
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	flush := http.NewResponseController(w).Flush
	attached, _ := json.Marshal(map[string]any{"remoteAddress": r.RemoteAddr, "eventType": "event_stream_attached", "timestamp": time.Now().UTC().Format(time.RFC3339Nano)})
	if _, err := fmt.Fprintf(w, "event: event_stream_attached\ndata: %s\n\n", attached); err != nil || flush() != nil {
		return
	}
	var tick <-chan time.Time
	if keepAlive > 0 {
		t := time.NewTicker(keepAlive)
		defer t.Stop()
		tick = t.C
	}
	for {
		var msg []byte
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-sub.silent:
			// Hold the connection open, sending nothing, until the client gives up.
			select {
			case <-r.Context().Done():
			case <-s.done:
			}
			return
		case msg = <-sub.ch:
		case <-tick:
			msg = []byte(":\n\n")
		}
		if _, err := w.Write(msg); err != nil || flush() != nil {
			return
		}
	}
}
