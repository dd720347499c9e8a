package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/avi-init/avi-init/e2e/systemdhost"
	"github.com/avi-init/avi-init/integrations/marathon/marathontest"
	"github.com/avi-init/avi-init/model/sechannel"
)

// chromium returns Debian's chromium. Under CI=true a missing browser fails the test; elsewhere
// the test is skipped.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	systemdhost.Missing(t, errors.New("no chromium on PATH: the browser test drives Debian's chromium (apt-get install -y chromium fonts-liberation)"))
	return ""
}

// startController runs `avi-init controller` with a fresh data directory, not set up, and
// returns its HTTPS origin with a client of its REST API that trusts its certificate (the test
// sets the credentials once set up).
func startController(t *testing.T) (origin string, api *controllerProc) {
	t.Helper()
	api = startControllerProc(t, t.TempDir(), false)
	return api.url(""), api
}

// browserLog records what the page did: every request URL, the answers for the page's own files,
// requests that failed (a module not found, blocked by the Content-Security-Policy, ...),
// exceptions and console errors.
type browserLog struct {
	mu         sync.Mutex
	requests   []string
	urls       map[network.RequestID]string
	files      []fileResponse
	failed     []string
	exceptions []string
	errors     []string
}

// fileResponse is the answer for one of the page's files: its document, a module, the style
// sheet, the icon.
type fileResponse struct {
	url, mime string
	kind      network.ResourceType
	status    int64
}

func (b *browserLog) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, e.Request.URL)
		if b.urls == nil {
			b.urls = map[network.RequestID]string{}
		}
		b.urls[e.RequestID] = e.Request.URL
	case *network.EventResponseReceived:
		switch e.Type {
		case network.ResourceTypeDocument, network.ResourceTypeScript, network.ResourceTypeStylesheet, network.ResourceTypeImage:
			b.files = append(b.files, fileResponse{url: e.Response.URL, mime: e.Response.MimeType, kind: e.Type, status: e.Response.Status})
		}
	case *network.EventLoadingFailed:
		b.failed = append(b.failed, fmt.Sprintf("%s %s: %s %s", e.Type, b.urls[e.RequestID], e.ErrorText, e.BlockedReason))
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.exceptions = append(b.exceptions, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber))
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			b.errors = append(b.errors, "console.error: "+strings.Join(parts, " "))
		}
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError {
			b.errors = append(b.errors, fmt.Sprintf("%s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	}
}

func (b *browserLog) snapshot() (requests, exceptions, errors []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...), append([]string(nil), b.exceptions...), append([]string(nil), b.errors...)
}

// loads returns the answers for the page's files and the requests that failed.
func (b *browserLog) loads() (files []fileResponse, failed []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]fileResponse(nil), b.files...), append([]string(nil), b.failed...)
}

// uiModules are the JavaScript modules of the web UI, as paths under its root.
func uiModules(t *testing.T) []string {
	t.Helper()
	const root = "../runtime/controller/ui"
	var mods []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".js" {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			mods = append(mods, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil || len(mods) == 0 {
		t.Fatalf("the UI's modules under %s: %v (%d found)", root, err, len(mods))
	}
	return mods
}

// TestBrowserUI drives the web UI in Debian's chromium as an operator would on first boot: the
// setup wizard (a weak password refused first), the dashboard, a health monitor, a pool using it
// and a virtual service using the pool, the Service engines page with a Mesos cloud (a Marathon
// test server with a good app and one whose label is broken) and a Docker cloud whose host cannot
// be reached, then logging out and in again. The page must fetch nothing from outside the
// controller, load every one of its modules, and break no Content-Security-Policy rule; every page
// it opens must render without an error.
func TestBrowserUI(t *testing.T) {
	chrome := chromium(t)
	origin, api := startController(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.WindowSize(1440, 900),
		// Our own self-signed certificate, on loopback.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	defer cancelCtx()

	// The first call starts the browser (with no timeout: a timeout would stop the browser);
	// network, runtime and log events are enabled by chromedp.
	var blog browserLog
	if err := chromedp.Listen(ctx, blog.listen); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	artifacts := "artifacts"
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(artifacts, name), png, 0o644)
		})
	}
	// rendered fails when the page shown is the error the router puts in place of a page that
	// failed (a module's bug would show there rather than as an exception).
	rendered := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		msg, err := chromedp.Evaluate[string](`(() => { const e = document.querySelector('[data-testid="page-error"]'); return e ? e.innerText : ''; })()`)(ctx, tg)
		if err != nil {
			return err
		}
		if msg != "" {
			return fmt.Errorf("the page shows an error instead of rendering: %s", msg)
		}
		return nil
	})
	// step runs actions, then checks that the page rendered, and names the step in a failure, with
	// a screenshot of the page.
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, append(actions, rendered)...); err != nil {
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			chromedp.Do(fctx, shot("failure.png"))
			_, exc, errs := blog.snapshot()
			t.Fatalf("%s: %v\nexceptions: %q\nerrors: %q\n(screenshot in e2e/artifacts/failure.png)", name, err, exc, errs)
		}
	}
	read := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		v, err := chromedp.Run(sctx, a)
		if err != nil {
			t.Fatalf("read %s: %v", what, err)
		}
		return strings.TrimSpace(v)
	}
	textOf := func(sel string) string { t.Helper(); return read(sel, chromedp.Text(chromedp.CSS(sel))) }
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(css(sel)) }
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(css(sel)) }
	gone := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitNotPresent(css(sel)) }
	// showing waits, up to 25 s, for the element sel to show a text containing every one of want
	// (any text when there is none): the integration panels refresh every 5 s.
	showing := func(sel string, want ...string) chromedp.Action[chromedp.Void] {
		js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.innerText : ''; })()`, sel)
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for deadline := time.Now().Add(25 * time.Second); ; {
				text, err := chromedp.Evaluate[string](js)(ctx, tg)
				if err != nil {
					return err
				}
				ok := strings.TrimSpace(text) != ""
				for _, w := range want {
					ok = ok && strings.Contains(text, w)
				}
				switch {
				case ok:
					return nil
				case time.Now().After(deadline) && text == "":
					return fmt.Errorf("%s: not shown within 25 s", sel)
				case time.Now().After(deadline):
					return fmt.Errorf("%s shows %q, without %q, after 25 s", sel, text, want)
				}
				if _, err := chromedp.Sleep(250*time.Millisecond)(ctx, tg); err != nil {
					return err
				}
			}
		})
	}
	// count is the number of elements sel matches.
	count := func(sel string) int {
		t.Helper()
		n, err := strconv.Atoi(read(sel, chromedp.Evaluate[string](fmt.Sprintf(`String(document.querySelectorAll(%q).length)`, sel))))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}
	// typeInto replaces an input's value by typing, as a user would.
	typeInto := func(sel, text string) chromedp.Action[chromedp.Void] {
		clear := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (e) { e.value = ''; } return !!e; })()`, sel)
		return chromedp.Steps(chromedp.WaitVisible(css(sel)), chromedp.Evaluate[chromedp.Void](clear), chromedp.SendKeys(css(sel), text))
	}
	// open goes to a page of the navigation and waits for it to show.
	open := func(nav string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(click("#nav-"+nav), visible("#page-"+nav))
	}

	const admin, strong = "admin", "Avi-Init-2024!"

	// The setup wizard shows on first boot.
	step("open the setup wizard", chromedp.Navigate(origin+"/"), visible("#setup-wizard"))

	// Step 1: the setup token is asked for first, with where to find it.
	step("no setup token", typeInto("#setup-username", admin), click("#wizard-next"), visible("#wizard-error"))
	if msg := textOf("#wizard-error"); !strings.Contains(msg, "sudo avi-init status") {
		t.Errorf("no setup token: error %q does not say where to find it (sudo avi-init status)", msg)
	}
	if hint := textOf(`[data-field="setup_token"] .hint`); !strings.Contains(hint, "sudo avi-init status") {
		t.Errorf("setup token hint %q does not say where to find it", hint)
	}
	// A wrong token passes the form; the controller refuses it at the end.
	step("wrong setup token", typeInto("#setup-token", "not-the-setup-token"))

	// A weak password is refused by the strength rule, next to the form.
	step("weak password",
		typeInto("#setup-password", "password"),
		typeInto("#setup-password2", "password"),
		click("#wizard-next"),
		visible("#wizard-error"))
	if msg := textOf("#wizard-error"); !strings.Contains(msg, "three") {
		t.Errorf("weak password: error %q does not state the rule (three kinds of character)", msg)
	}
	step("weak password screenshot", shot("setup-account.png"))
	if s := read("wizard step", chromedp.Evaluate[string](`document.querySelector('#setup-wizard').dataset.step`)); s != "1" {
		t.Fatalf("weak password: the wizard moved on to step %s", s)
	}
	step("strong password", typeInto("#setup-password", strong), typeInto("#setup-password2", strong))
	if n := read("rules met", chromedp.Evaluate[string](`String(document.querySelectorAll('#password-rules li.ok').length)`)); n != "2" {
		t.Errorf("strong password: %s of 2 rules shown as met", n)
	}
	step("account", click("#wizard-next"), visible("#setup-dns"))

	// Step 2: DNS and NTP.
	step("dns and ntp",
		typeInto("#setup-dns", "192.0.2.53, 192.0.2.54"),
		typeInto("#setup-ntp", "pool.ntp.org"),
		click("#wizard-next"),
		visible("#setup-smtp-type"))

	// Step 3: email stays SMTP_NONE.
	step("email", click("#wizard-next"), visible(`[data-testid="wizard-cloud"]`))

	// Step 4 with the wrong token: the controller generates no key pair.
	step("key pair refused without the setup token",
		click(`[data-testid="cloud-CLOUD_LINUXSERVER"]`),
		click("#setup-generate-key"),
		visible("#setup-keypair-error"))
	if msg := textOf("#setup-keypair-error"); !strings.Contains(msg, "avi-init status") {
		t.Errorf("key pair with a wrong setup token: error %q does not say where to find the token", msg)
	}
	// Finishing with the wrong token sends the operator back to the token, with nothing set up.
	step("setup refused without the setup token",
		click(`[data-testid="cloud-CLOUD_NONE"]`),
		click("#wizard-next"),
		visible(`[data-testid="review-table"]`),
		click("#wizard-finish"),
		visible(`[data-field="setup_token"].invalid`))
	if s := read("wizard step", chromedp.Evaluate[string](`document.querySelector('#setup-wizard').dataset.step`)); s != "1" {
		t.Errorf("wrong setup token: the wizard shows step %s, want 1 (the token)", s)
	}
	if msg := textOf("#wizard-error"); !strings.Contains(msg, "avi-init status") {
		t.Errorf("wrong setup token: error %q does not say where to find the token", msg)
	}
	if l := api.logs.String(); !strings.Contains(l, "setup-token") {
		t.Error("the controller's log does not say where the setup token is")
	}

	// The right token, where the controller's log says it is (a controller started without the
	// installer writes its own); the other steps keep what was entered.
	tok, err := os.ReadFile(filepath.Join(api.data, "setup-token"))
	if err != nil {
		t.Fatalf("no setup token in the data directory: %v", err)
	}
	if strings.Contains(api.logs.String(), strings.TrimSpace(string(tok))) {
		t.Error("the controller's log shows the setup token")
	}
	step("right setup token",
		typeInto("#setup-token", strings.TrimSpace(string(tok))),
		click("#wizard-next"), visible("#setup-dns"),
		click("#wizard-next"), visible("#setup-smtp-type"),
		click("#wizard-next"), visible(`[data-testid="wizard-cloud"]`))

	// Step 4: generate a key pair for Linux servers (the public key is shown to copy), then
	// choose no orchestrator, so that nothing tries to reach hosts.
	step("generate key pair",
		click(`[data-testid="cloud-CLOUD_LINUXSERVER"]`),
		visible("#setup-generate-key"),
		click("#setup-generate-key"),
		visible("#setup-public-key"),
		visible("#setup-copy-key"),
		shot("setup-cloud.png"))
	if key := read("public key", chromedp.Value(css("#setup-public-key"))); !strings.HasPrefix(key, "ssh-ed25519 ") {
		t.Errorf("generated public key = %q, want an ssh-ed25519 key", key)
	}
	step("no orchestrator",
		click(`[data-testid="cloud-CLOUD_NONE"]`),
		gone("#setup-generate-key"),
		click("#wizard-next"),
		visible(`[data-testid="review-table"]`))
	if review := textOf(`[data-testid="review-table"]`); !strings.Contains(review, "192.0.2.53, 192.0.2.54") || !strings.Contains(review, "pool.ntp.org") {
		t.Errorf("the review does not list the DNS and NTP servers:\n%s", review)
	}
	step("review screenshot", shot("setup-review.png"))

	// Step 5: finish; the wizard logs in and shows the dashboard.
	step("finish setup", click("#wizard-finish"), visible("#page-dashboard"), visible("#count-vs"))
	if n := textOf(`[data-testid="count-vs-value"]`); n != "0" {
		t.Errorf("the dashboard of a new controller counts %s virtual services", n)
	}

	// A health monitor.
	step("create health monitor",
		open("healthmonitors"),
		visible("#create-healthmonitor"),
		click("#create-healthmonitor"),
		visible("#hm-name"),
		typeInto("#hm-name", "hm-http"),
		typeInto("#hm-send-interval", "5"),
		typeInto("#hm-receive-timeout", "4"),
		typeInto("#hm-failed-checks", "3"),
		typeInto("#hm-http-request", "GET /healthz HTTP/1.1"),
		click("#modal-save"),
		gone("#modal"),
		visible(`#table-healthmonitor tr[data-name="hm-http"]`))
	if row := textOf(`#table-healthmonitor tr[data-name="hm-http"]`); !strings.Contains(row, "GET /healthz HTTP/1.1") || !strings.Contains(row, "3 down") {
		t.Errorf("health monitor row: %q", row)
	}

	// The server's refusal (a name taken) shows next to the form.
	step("duplicate health monitor",
		click("#create-healthmonitor"),
		visible("#hm-name"),
		typeInto("#hm-name", "hm-http"),
		click("#modal-save"),
		visible("#modal-error"))
	if msg := textOf("#modal-error"); !strings.Contains(msg, "hm-http") {
		t.Errorf("duplicate health monitor: error %q does not name it", msg)
	}
	step("cancel", click("#modal-cancel"), gone("#modal"))

	// A pool using it.
	step("create pool",
		open("pools"),
		visible("#create-pool"),
		click("#create-pool"),
		visible("#pool-name"),
		typeInto("#pool-name", "web"),
		typeInto("#pool-servers", "192.0.2.21:8080\n192.0.2.22:8080"),
		selectByText("#pool-algorithm", "Round robin"),
		click(`[data-testid="pool-hm-hm-http"]`),
		shot("pool-form.png"),
		click("#modal-save"),
		gone("#modal"),
		visible(`#table-pool tr[data-name="web"]`))
	if row := textOf(`#table-pool tr[data-name="web"]`); !strings.Contains(row, "192.0.2.21:8080") || !strings.Contains(row, "hm-http") || !strings.Contains(row, "Round robin") {
		t.Errorf("pool row: %q", row)
	}

	// Its edit dialog shows what was saved, and saves it again.
	step("edit pool",
		click(`#table-pool tr[data-name="web"] [data-testid="edit"]`),
		visible("#pool-servers"),
		click("#modal-save"),
		gone("#modal"),
		showing(`[data-testid="toasts"]`, "Pool web saved"),
		// The table is drawn anew after the toast: read the row as one text, as it shows.
		showing(`#table-pool tr[data-name="web"]`, "192.0.2.22:8080", "hm-http", "Round robin"))

	// A virtual service using the pool.
	step("create virtual service",
		open("virtualservices"),
		visible("#create-virtualservice"),
		click("#create-virtualservice"),
		visible("#vs-name"),
		typeInto("#vs-name", "web-vs"),
		typeInto("#vs-ports", "10001"),
		selectByText("#vs-pool", "web"),
		selectByText("#vs-profile", "System-HTTP"),
		click("#modal-save"),
		gone("#modal"),
		visible(`#table-virtualservice tr[data-name="web-vs"]`))
	if row := textOf(`#table-virtualservice tr[data-name="web-vs"]`); !strings.Contains(row, "*:10001") || !strings.Contains(row, "web") || !strings.Contains(row, "System-HTTP") {
		t.Errorf("virtual service row: %q", row)
	}

	// A second service on the port web-vs holds, on the same SEs: refused (409) next to the
	// form, naming the holder; nothing is created.
	step("port clash",
		click("#create-virtualservice"),
		visible("#vs-name"),
		typeInto("#vs-name", "clash-vs"),
		typeInto("#vs-ports", "10001"),
		selectByText("#vs-pool", "web"),
		click("#modal-save"),
		visible("#modal-error"))
	if msg := textOf("#modal-error"); !strings.Contains(msg, "web-vs") || !strings.Contains(msg, "10001") {
		t.Errorf("port clash: error %q does not name the holder web-vs and the port", msg)
	}
	step("cancel port clash", click("#modal-cancel"), gone("#modal"))
	if n := count(`#table-virtualservice tr[data-name="clash-vs"]`); n != 0 {
		t.Errorf("port clash: clash-vs is listed (%d rows) though it was refused", n)
	}

	// Its detail page draws the charts (empty until traffic flows) and the client logs.
	step("virtual service detail",
		click(`#table-virtualservice tr[data-name="web-vs"] a.name`),
		visible("#page-vs-detail"),
		visible("#chart-rps"),
		visible("#chart-latency"),
		visible(`[data-testid="vs-logs-panel"] h2`),
		shot("vs-detail.png"))

	// Two integrations, set up through the REST API: a Mesos cloud reading a Marathon (a test
	// server on loopback) with a good app and one whose avi_proxy label is broken JSON, and a
	// Docker cloud with one host, 127.0.0.2, where no SSH server answers, so that neither its
	// engine can be followed nor an SE installed there.
	api.user, api.pass = admin, strong
	mar := marathontest.NewServer(t)
	for _, app := range []string{
		`{"id": "/ui/web", "instances": 1, "portDefinitions": [{"port": 18080, "protocol": "tcp", "name": "http"}]}`,
		`{"id": "/ui/broken", "instances": 1, "portDefinitions": [{"port": 18081, "protocol": "tcp", "name": "http"}],
			"labels": {"avi_proxy": "{\"virtualservice\": {,}}"}}`,
	} {
		if _, err := mar.AddApp([]byte(app)); err != nil {
			t.Fatal(err)
		}
	}
	create := func(kind string, body map[string]any) string {
		t.Helper()
		var out map[string]any
		code := api.call(t, "POST", "/api/"+kind, body, &out)
		uuid, _ := out["uuid"].(string)
		if code != http.StatusCreated || uuid == "" {
			t.Fatalf("POST /api/%s %v: %d %v", kind, body, code, out)
		}
		return uuid
	}
	mesosCloud := create("cloud", map[string]any{"name": "mesos-ui", "vtype": "CLOUD_MESOS",
		"mesos_configuration": map[string]any{"marathon_configurations": []any{map[string]string{"marathon_url": mar.URL}}}})
	sshUser := create("cloudconnectoruser", map[string]any{"name": "uiuser"}) // with a generated key pair
	dockerCloud := create("cloud", map[string]any{"name": "docker-ui", "vtype": "CLOUD_DOCKER",
		"docker_configuration": map[string]any{"ssh_user_ref": "/api/cloudconnectoruser/" + sshUser,
			"hosts": []any{map[string]any{"host_ip": map[string]string{"addr": "127.0.0.2", "type": "V4"}}}}})

	// A join token for a service engine, shown once with the command to run.
	step("create join token",
		open("serviceengines"),
		visible("#create-jointoken"),
		click("#create-jointoken"),
		visible("#jointoken-description"),
		typeInto("#jointoken-description", "rack 4"),
		typeInto("#jointoken-max-uses", "3"),
		click("#modal-save"),
		visible("#jointoken-command"),
		shot("jointoken.png"))
	token := read("join token", chromedp.Value(css("#jointoken-value")))
	// Every value of a command the UI shows is quoted for the shell; the token goes by the
	// environment, never argv; the controller's sysint port is not the default, so it is given.
	if cmd, want := read("join command", chromedp.Value(css("#jointoken-command"))),
		"AVI_JOIN_TOKEN='"+token+"' sudo --preserve-env=AVI_JOIN_TOKEN ./avi-init -s -m '127.0.0.1' -sysint '"+strconv.Itoa(api.sysint)+"'"; token == "" || cmd != want {
		t.Errorf("join command = %q, want %q", cmd, want)
	}
	step("close join token", click("#modal-cancel"), gone("#modal"), visible(`[data-testid="jointoken-panel"] h2`), shot("serviceengines.png"))
	// The token row counts its joins against the uses the operator chose.
	step("join token uses", showing(`[data-testid="jointoken-panel"] tr[data-name="rack 4"] [data-testid="jointoken-joins"]`, "0 / 3"))

	// Two service engines join with that token and report on web-vs as SEs do (heartbeats made
	// here, every second, until the test ends): se-ui-a serves it and finds 192.0.2.22:8080 down
	// by hm-http; se-ui-b could not apply it. The pool's member table, the service's page, the
	// list, the dashboard and the SE page show it.
	api.user, api.pass = admin, strong
	vsUUID, poolUUID := api.uuidOf(t, "virtualservice", "web-vs"), api.uuidOf(t, "pool", "web")
	up, down := true, false
	const busy = "listen tcp :10001: address already in use"
	fakeSEs := []struct {
		name string
		hb   sechannel.Heartbeat
	}{
		{"se-ui-a", sechannel.Heartbeat{Metrics: []sechannel.Metrics{
			{VSUUID: vsUUID, Seconds: 1},
			{VSUUID: vsUUID, PoolUUID: poolUUID, Server: "192.0.2.21:8080", Up: &up, OpenConns: 2},
			{VSUUID: vsUUID, PoolUUID: poolUUID, Server: "192.0.2.22:8080", Up: &down, Reason: "hm-http: connect: connection refused"},
		}}},
		{"se-ui-b", sechannel.Heartbeat{NotApplied: []sechannel.ServiceError{{VSUUID: vsUUID, Reason: busy}}}},
	}
	seHeaders := make([]map[string]string, len(fakeSEs))
	for i, f := range fakeSEs {
		var joined sechannel.JoinResponse
		if code := api.call(t, "POST", sechannel.JoinPath, sechannel.JoinRequest{Token: token, Name: f.name}, &joined); code != http.StatusOK {
			t.Fatalf("join %s: %d", f.name, code)
		}
		seHeaders[i] = map[string]string{sechannel.SEHeader: joined.SEUUID, "Authorization": "Bearer " + joined.Credential}
	}
	beat := func() {
		for i, f := range fakeSEs {
			data, _ := json.Marshal(f.hb)
			req, _ := http.NewRequest("POST", api.url(sechannel.HeartbeatPath), bytes.NewReader(data))
			for k, v := range seHeaders[i] {
				req.Header.Set(k, v)
			}
			if resp, err := api.client.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	beat()
	hbCtx, stopBeats := context.WithCancel(context.Background())
	t.Cleanup(stopBeats)
	go func() {
		for tick := time.NewTicker(time.Second); ; {
			select {
			case <-hbCtx.Done():
				tick.Stop()
				return
			case <-tick.C:
				beat()
			}
		}
	}()
	const downRow = `#pool-members tr[data-server="192.0.2.22:8080"]`
	step("pool member table",
		chromedp.Navigate(origin+"/#/pools/"+poolUUID), visible("#page-pool-detail"),
		showing(downRow, "DOWN", "hm-http: connect: connection refused"),
		showing(`#pool-members tr[data-server="192.0.2.21:8080"]`, "UP"),
		shot("pool-members.png"))
	if n := count(`#pool-members tr.member-down[data-server="192.0.2.22:8080"]`); n != 1 {
		t.Errorf("the member down is not drawn as down (red): %d rows", n)
	}
	// The pools list colours each member's chip by what the SEs report, the reason as its title.
	const downChip = `#table-pool tr[data-name="web"] .chip.red[data-state="OPER_DOWN"]`
	step("pools list member states", open("pools"),
		showing(downChip, "192.0.2.22:8080"),
		showing(`#table-pool tr[data-name="web"] .chip.green[data-state="OPER_UP"]`, "192.0.2.21:8080"))
	if title := read("down member's title", chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).title`, downChip))); title != "hm-http: connect: connection refused" {
		t.Errorf("the down member's chip is titled %q, want the SE's reason", title)
	}
	step("virtual service not applied",
		chromedp.Navigate(origin+"/#/virtualservices/"+vsUUID), visible("#page-vs-detail"),
		showing(`[data-testid="vs-status"]`, "Partitioned", "Not applied", "se-ui-b: "+busy),
		showing(`#vs-members tr[data-server="192.0.2.22:8080"]`, "DOWN", "hm-http"),
		showing(`#vs-ses tr[data-name="se-ui-b"]`, "Not applied", busy),
		shot("vs-not-applied.png"))
	if health := textOf(`[data-testid="vs-health"]`); health != "25" {
		t.Errorf("health score %q, want 25: placed on two SEs, served by one, one server of two down", health)
	}
	step("list shows not applied", open("virtualservices"), showing(`#table-virtualservice tr[data-name="web-vs"]`, "Not applied", "se-ui-b: "+busy))
	step("dashboard shows not applied", open("dashboard"), showing(`#dashboard-vs-table tr[data-name="web-vs"]`, "Not applied", "se-ui-b: "+busy))
	step("SE page shows not applied and versions", open("serviceengines"),
		showing(`#table-serviceengine tr[data-name="se-ui-b"]`, "Not applied", "web-vs: "+busy, " / "))

	// The Mesos cloud's panel: synced, the broken app skipped with the reason, the good app not
	// listed (it became a virtual service).
	mesosPanel := `[data-testid="mesos-cloud"][data-name="mesos-ui"]`
	mesosApps := mesosPanel + ` table[data-testid="table-mesos-apps"]`
	brokenRow := mesosApps + ` tr[data-app="/ui/broken"]`
	step("Mesos panel",
		showing(mesosPanel+" .panel-head p", "SYNCED"),
		showing(brokenRow+` [data-testid="table-mesos-apps-error"]`, "Skipped"),
		showing(brokenRow, "avi_proxy"))
	if title := textOf(mesosPanel + " .panel-head h2"); title != "Marathon apps: mesos-ui" {
		t.Errorf("Mesos panel title %q, want Marathon apps: mesos-ui", title)
	}
	if row := textOf(brokenRow); !strings.Contains(row, "/ui/broken") || !strings.Contains(row, "not valid JSON") {
		t.Errorf("the broken app's row %q does not name it or say its label is not valid JSON", row)
	}
	if n := count(mesosApps + " tbody tr"); n != 1 {
		t.Errorf("the Mesos panel lists %d apps, want only the broken one:\n%s", n, textOf(mesosApps))
	}

	// The Docker cloud's panel: the host's engine cannot be followed, and why.
	dockerPanel := `[data-testid="docker-cloud"][data-name="docker-ui"]`
	dockerHost := dockerPanel + ` table[data-testid="table-docker-hosts"] tr[data-host="127.0.0.2"]`
	step("Docker panel",
		showing(dockerHost+` [data-testid="docker-host-state"]`, "ERROR"),
		showing(dockerHost+` [data-testid="docker-host-reason"]`))
	if state := textOf(dockerHost + ` [data-testid="docker-host-state"]`); state != "ERROR" {
		t.Errorf("Docker host state %q, want ERROR", state)
	}
	t.Logf("Docker host 127.0.0.2: %s", textOf(dockerHost+` [data-testid="docker-host-reason"]`))

	// The hosts panel lists the Docker cloud's host, where the controller keeps an SE.
	hostsPanel := `[data-testid="linuxserver-cloud"][data-name="docker-ui"]`
	step("Docker hosts panel", showing(hostsPanel+` table[data-testid="table-linuxhost"] tr[data-host="127.0.0.2"]`, "127.0.0.2"),
		shot("serviceengines-integrations.png"))
	if title := textOf(hostsPanel + " .panel-head h2"); !strings.HasPrefix(title, "Docker hosts:") {
		t.Errorf("hosts panel title %q, want Docker hosts: docker-ui", title)
	}
	// How to prepare the host, its URL quoted for the shell.
	if cmd, want := read("prepare command", chromedp.Value(css(hostsPanel+` [data-testid="linuxhost-prepare"]`))),
		"curl -ks '"+origin+"/api/linux_host_install?username=uiuser' | sudo bash"; cmd != want {
		t.Errorf("prepare command = %q, want %q", cmd, want)
	}
	// How to prepare the host, inside the panel rather than against its border.
	inset := read("prepare command inset", chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		const panel = document.querySelector(%q).getBoundingClientRect();
		const cmd = document.querySelector(%q).getBoundingClientRect(), copy = document.querySelector(%q).getBoundingClientRect();
		return String(Math.min(cmd.left - panel.left, panel.right - copy.right)); })()`,
		hostsPanel, hostsPanel+` [data-testid="linuxhost-prepare"]`, hostsPanel+` [data-testid="linuxhost-prepare-copy"]`)))
	if px, err := strconv.ParseFloat(inset, 64); err != nil || px < 12 {
		t.Errorf("the prepare command and its Copy button are %s px from the hosts panel's border, want the panel's padding", inset)
	}

	// The good app is a virtual service; the broken one is not.
	step("Marathon app's virtual service",
		open("virtualservices"),
		visible(`#table-virtualservice tr[data-name="ui-web-18080"]`))
	if row := textOf(`#table-virtualservice tr[data-name="ui-web-18080"]`); !strings.Contains(row, "18080") {
		t.Errorf("the Marathon app's virtual service row: %q", row)
	}
	if n := count(`#table-virtualservice tr[data-name^="ui-broken"]`); n != 0 {
		t.Errorf("the app with the broken label has %d virtual services", n)
	}

	// Back on the Service engines page, drawn anew, the panels show the same.
	step("Service engines again",
		open("serviceengines"),
		visible(brokenRow),
		visible(dockerHost),
		visible(hostsPanel))

	// The integrations go, so that the dashboard below counts only web-vs: the apps (and with
	// them their virtual service), then the clouds and the SSH user. Their panels go.
	for _, app := range []string{"/ui/web", "/ui/broken"} {
		if err := mar.DeleteApp(app); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the Marathon app's virtual service to go", 10*time.Second, func() bool {
		var vss struct {
			Count int `json:"count"`
		}
		api.call(t, "GET", "/api/virtualservice?name=ui-web-18080", nil, &vss)
		return vss.Count == 0
	})
	for _, path := range []string{"/api/cloud/" + mesosCloud, "/api/cloud/" + dockerCloud, "/api/cloudconnectoruser/" + sshUser} {
		var out map[string]any
		if code := api.call(t, "DELETE", path, nil, &out); code != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d %v", path, code, out)
		}
	}
	step("integration panels gone", gone(mesosPanel), gone(dockerPanel), gone(hostsPanel))

	// The settings show what the wizard stored.
	step("settings", open("settings"), visible("#settings-dns"), shot("settings.png"))
	if dns := read("DNS servers", chromedp.Value(css("#settings-dns"))); dns != "192.0.2.53, 192.0.2.54" {
		t.Errorf("settings: DNS servers %q, want the wizard's 192.0.2.53, 192.0.2.54", dns)
	}
	step("save settings", click("#settings-save"), showing(`[data-testid="toasts"]`, "System configuration saved"))

	// API tokens: minted read-only in Settings, shown once, used by a script, revoked.
	const tokRow = `#table-apitoken tr[data-name="e2e script"]`
	step("create an API token",
		click("#create-apitoken"), visible("#apitoken-hours"),
		typeInto("#apitoken-description", "e2e script"),
		typeInto("#apitoken-hours", "2"),
		selectByText("#apitoken-scope", "Read-only"),
		click("#modal-save"), visible("#apitoken-value"), visible("#apitoken-copy"), shot("apitoken.png"))
	apiToken := read("API token", chromedp.Value(css("#apitoken-value")))
	if len(apiToken) < 32 {
		t.Fatalf("API token shown: %q", apiToken)
	}
	step("close the token", click("#modal-cancel"), gone("#modal"), visible(tokRow))
	if scope := textOf(tokRow); !strings.Contains(scope, "read-only") || strings.Contains(scope, apiToken) {
		t.Errorf("the API token row shows %q: want its read-only scope and never the token", scope)
	}
	withToken := func(method, path string) int {
		t.Helper()
		req, err := http.NewRequest(method, api.url(path), strings.NewReader(`{"name": "by-token"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Token "+apiToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := api.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := withToken("GET", "/api/pool"); code != http.StatusOK {
		t.Errorf("GET /api/pool with the read-only token: %d", code)
	}
	if code := withToken("POST", "/api/pool"); code != http.StatusForbidden {
		t.Errorf("POST /api/pool with the read-only token: %d, want 403", code)
	}
	step("revoke the API token", click(tokRow+` [data-testid="revoke-apitoken"]`), visible("#modal-save"), click("#modal-save"), gone(tokRow))
	if code := withToken("GET", "/api/pool"); code != http.StatusUnauthorized {
		t.Errorf("GET /api/pool with the revoked token: %d, want 401", code)
	}

	// The Cluster page: a controller on its own leads its cluster of one; a node listed waits to
	// join, and a token comes with the command to run on it.
	step("cluster", open("cluster"), showing(`[data-testid="cluster-state"]`, "CLUSTER_UP_NO_HA"),
		showing(`#table-cluster tr[data-name="127.0.0.1"] [data-testid="node-role"]`, "Leader"), shot("cluster.png"))
	step("cluster: list a second node",
		click("#cluster-edit"),
		visible("#cluster-nodes"),
		typeInto("#cluster-nodes", "127.0.0.1\n192.0.2.41"),
		click("#modal-save"),
		gone("#modal"),
		showing(`[data-testid="cluster-state"]`, "CLUSTER_UP_HA_NOT_READY"),
		showing(`#table-cluster tr[data-name="192.0.2.41"] [data-testid="node-state"]`, "CLUSTER_NOT_JOINED"))
	step("cluster: a bad address", click("#cluster-edit"), typeInto("#cluster-nodes", "127.0.0.1\nnot-an-ip"), click("#modal-save"),
		showing("#modal-error", "not-an-ip"), click("#modal-cancel"), gone("#modal"))
	step("cluster: join token", click("#cluster-jointoken"), visible("#modal-save"), click("#modal-save"), visible("#cluster-command"))
	if cmd := read("cluster join command", chromedp.Value(css("#cluster-command"))); !strings.Contains(cmd, "--cluster-join 127.0.0.1:") ||
		!strings.HasPrefix(cmd, "AVI_JOIN_TOKEN=") {
		t.Errorf("cluster join command = %q; want the token in the environment and --cluster-join this controller", cmd)
	}
	step("cluster: close", click("#modal-cancel"), gone("#modal"))

	// The audit log shows what was done, newest first, filtered.
	step("audit log", open("auditlog"), visible("#table-auditlog"), showing(`[data-testid="audit-page"]`, "Page 1 of"), shot("auditlog.png"))
	// The unfiltered table holds token rows too and stays until the filtered answer replaces it:
	// it is taken away first, so that the rows waited for and counted are the filtered ones.
	step("audit log: tokens",
		selectByText("#audit-action", "token"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#table-auditlog').remove()`),
		click("#audit-apply"),
		visible(`#table-auditlog tr[data-action="token"][data-kind="authtoken"]`))
	if n := count(`#table-auditlog tbody tr:not([data-action="token"])`); n != 0 {
		t.Errorf("the audit log filtered by action token shows %d other rows", n)
	}
	step("audit log: user admin's creations",
		selectByText("#audit-action", "create"),
		typeInto("#audit-user", admin),
		click("#audit-apply"),
		visible(`#table-auditlog tr[data-action="create"][data-kind="pool"]`))
	if n := count(`#table-auditlog tbody tr:not([data-action="create"])`); n != 0 {
		t.Errorf("the audit log filtered by action create shows %d other rows", n)
	}
	step("audit log: a time that is none", typeInto("#audit-since", "yesterday-ish"), click("#audit-apply"), showing("#audit-error", "2026-03-01 12:00"))
	step("audit log: since tomorrow",
		typeInto("#audit-since", time.Now().Add(24*time.Hour).Format("2006-01-02 15:04")),
		click("#audit-apply"),
		gone("#table-auditlog"),
		showing(`[data-testid="audit-results"]`, "Nothing matches"))

	// The dashboard lists the virtual service.
	step("dashboard", open("dashboard"), visible(`#dashboard-vs-table tr[data-name="web-vs"]`))
	if n := textOf(`[data-testid="count-vs-value"]`); n != "1" {
		t.Errorf("the dashboard counts %s virtual services, want 1", n)
	}
	if n := textOf(`[data-testid="count-pools-value"]`); n != "1" {
		t.Errorf("the dashboard counts %s pools, want 1", n)
	}
	step("dashboard screenshot", gone(".toast"), shot("dashboard.png"))

	// Log out: the login page shows; a wrong password is refused, the right one logs in.
	step("log out", click("#logout"), visible("#login-form"))
	step("wrong password",
		typeInto("#login-username", admin),
		typeInto("#login-password", "Wrong-password-1"),
		click("#login-submit"),
		visible("#login-error"))
	step("log in",
		typeInto("#login-password", strong),
		click("#login-submit"),
		visible(`#dashboard-vs-table tr[data-name="web-vs"]`))
	step("log out again", click("#logout"), visible("#login-form"), shot("login.png"))

	requests, exceptions, errs := blog.snapshot()
	if len(requests) == 0 {
		t.Fatal("the browser reported no requests: network events not seen")
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, origin+"/") {
			t.Errorf("the page fetched %s: only %s/ is allowed", u, origin)
		}
	}
	for _, e := range exceptions {
		t.Errorf("JavaScript exception: %s", e)
	}
	for _, e := range errs {
		// Error answers are part of the flow: a 401 for the wrong password, a 409 for the
		// duplicate name, a 404 from endpoints this controller may not have yet (the UI shows
		// an empty state). Anything else, a CSP violation above all, is a bug.
		if strings.HasPrefix(e, "network: Failed to load resource: the server responded with a status of 4") {
			continue
		}
		t.Errorf("browser console: %s", e)
	}
	t.Logf("%d requests, all to %s", len(requests), origin)

	// Every module loaded, as JavaScript: a module that is not found or not served as a script
	// stops the page, and the console reports it only as one more 4xx.
	files, failed := blog.loads()
	loaded := map[string]bool{}
	for _, f := range files {
		if f.status != http.StatusOK && f.status != http.StatusNotModified {
			t.Errorf("%s %s: status %d", f.kind, f.url, f.status)
		}
		if f.kind == network.ResourceTypeScript {
			if f.mime != "text/javascript" {
				t.Errorf("module %s served as %q, want text/javascript", f.url, f.mime)
			}
			loaded[strings.TrimPrefix(f.url, origin+"/")] = true
		}
	}
	for _, m := range uiModules(t) {
		if !loaded[m] {
			t.Errorf("module %s was never loaded", m)
		}
	}
	for _, f := range failed {
		t.Errorf("failed to load: %s", f)
	}
	t.Logf("%d modules loaded", len(loaded))
}

// selectByText picks the option of a <select> whose label starts with text, as a user would.
func selectByText(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		js := fmt.Sprintf(`(() => { const s = document.querySelector(%q); if (!s) return false;
			const o = Array.from(s.options).find((o) => o.text.trim().startsWith(%q)); if (!o) return false;
			s.value = o.value; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, sel, text)
		ok, err := chromedp.Evaluate[bool](js)(ctx, tg)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s has no option %q", sel, text)
		}
		return nil
	})
}
