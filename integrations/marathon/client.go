package marathon

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Endpoint is one Marathon and how to authenticate to it: basic auth, a DC/OS token, or
// nothing.
type Endpoint struct {
	URL      string
	Username string
	Password string
	Token    string
}

// Config configures a Client. Zero durations take the defaults in parentheses.
type Config struct {
	// Endpoints are Marathons of one cluster; the client fails over between them in order.
	Endpoints []Endpoint
	// HTTPClient carries the requests (http.DefaultClient when nil). Its Timeout and
	// CheckRedirect are not used: the event stream lives for hours, and redirects are followed
	// by the client itself so that credentials go along to the leader.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// RequestTimeout bounds one read of the app list (30 s).
	RequestTimeout time.Duration
	// StreamIdleTimeout is how long the event stream may stay silent before it is taken for
	// dead and reconnected (60 s). Marathon sends keepalives well within it.
	StreamIdleTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before reconnecting the event stream (1 s, 30 s).
	MinBackoff, MaxBackoff time.Duration
}

// ErrAuth means a Marathon refused the credentials.
var ErrAuth = errors.New("marathon refused the credentials")

// ErrSilent means the event stream sent nothing for longer than StreamIdleTimeout.
var ErrSilent = errors.New("event stream went silent")

// Client reads from a list of Marathons of one cluster.
type Client struct {
	endpoints      []endpoint
	hc             *http.Client
	log            *slog.Logger
	requestTimeout time.Duration
	idleTimeout    time.Duration
	minBackoff     time.Duration
	maxBackoff     time.Duration

	mu sync.Mutex
	// preferred is the endpoint that answered last; requests start there.
	preferred int
}

type endpoint struct {
	base *url.URL
	// auth is the Authorization header, empty for none. It is never logged.
	auth string
}

func (e endpoint) String() string { return e.base.String() }

// maxRedirects bounds the hops to the leader; one is the rule.
const maxRedirects = 3

// maxAppListBytes bounds an app list; a large cluster's is tens of megabytes.
const maxAppListBytes = 256 << 20

// NewClient checks the endpoints and returns a client over them.
func NewClient(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("marathon client: no Marathon URL")
	}
	c := &Client{
		log:            cfg.Logger,
		requestTimeout: orDefault(cfg.RequestTimeout, 30*time.Second),
		idleTimeout:    orDefault(cfg.StreamIdleTimeout, 60*time.Second),
		minBackoff:     orDefault(cfg.MinBackoff, time.Second),
		maxBackoff:     orDefault(cfg.MaxBackoff, 30*time.Second),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	hc := http.DefaultClient
	if cfg.HTTPClient != nil {
		hc = cfg.HTTPClient
	}
	copied := *hc
	copied.Timeout = 0
	copied.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &copied
	for i, e := range cfg.Endpoints {
		ep, err := newEndpoint(e)
		if err != nil {
			return nil, fmt.Errorf("marathon client: endpoint %d: %w", i, err)
		}
		c.endpoints = append(c.endpoints, ep)
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func newEndpoint(e Endpoint) (endpoint, error) {
	u, err := url.Parse(e.URL)
	if err != nil {
		// url.Parse quotes the input, which may hold a password.
		return endpoint{}, errors.New("marathon URL: not a URL")
	}
	if u.User != nil {
		return endpoint{}, fmt.Errorf("marathon URL %s: give credentials separately, not in the URL", u.Redacted())
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("marathon URL %s: want http(s)://host[:port][/path]", u.Redacted())
	}
	ep := endpoint{base: u}
	switch {
	case e.Token != "" && e.Username != "":
		return endpoint{}, fmt.Errorf("marathon URL %s: give a username and password or a token, not both", u)
	case e.Token != "":
		// DC/OS's scheme for Marathon behind its admin router.
		ep.auth = "token=" + e.Token
	case e.Username != "":
		ep.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(e.Username+":"+e.Password))
	}
	return ep, nil
}

// order lists the endpoints to try, starting with the one that answered last.
func (c *Client) order() []int {
	c.mu.Lock()
	start := c.preferred
	c.mu.Unlock()
	out := make([]int, len(c.endpoints))
	for i := range out {
		out[i] = (start + i) % len(c.endpoints)
	}
	return out
}

func (c *Client) prefer(i int) {
	c.mu.Lock()
	c.preferred = i
	c.mu.Unlock()
}

// Apps reads the app list with tasks, from the first Marathon that answers.
func (c *Client) Apps(ctx context.Context) ([]App, error) {
	var errs []error
	for _, i := range c.order() {
		ep := c.endpoints[i]
		apps, err := c.appsFrom(ctx, ep)
		if err == nil {
			c.prefer(i)
			return apps, nil
		}
		errs = append(errs, fmt.Errorf("read marathon apps from %s: %w", ep, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (c *Client) appsFrom(ctx context.Context, ep endpoint) ([]App, error) {
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	resp, err := c.get(ctx, ep, "v2/apps", url.Values{"embed": {"apps.tasks"}}, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := checkStatus(resp); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAppListBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAppListBytes {
		return nil, fmt.Errorf("app list larger than %d MiB", maxAppListBytes>>20)
	}
	return DecodeApps(data)
}

// get sends a GET to one Marathon. It follows redirects itself: a Marathon that is not the
// leader may redirect to it, and net/http would drop the credentials when the host changes.
// A redirect from https to http is refused, so credentials never go out in clear.
func (c *Client) get(ctx context.Context, ep endpoint, path string, query url.Values, accept string) (*http.Response, error) {
	u := ep.base.JoinPath(path)
	u.RawQuery = query.Encode()
	for hops := 0; ; hops++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", accept)
		if ep.auth != "" {
			req.Header.Set("Authorization", ep.auth)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, nil
		}
		loc, err := resp.Location()
		drain(resp)
		switch {
		case err != nil:
			return nil, fmt.Errorf("redirect (HTTP %d) without a usable Location", resp.StatusCode)
		case hops == maxRedirects:
			return nil, fmt.Errorf("more than %d redirects", maxRedirects)
		case u.Scheme == "https" && loc.Scheme != "https":
			return nil, fmt.Errorf("refusing redirect from https to %s", loc.Redacted())
		}
		loc.User = nil
		c.log.Info("following marathon redirect to the leader", "from", u.String(), "to", loc.String())
		u = loc
	}
}

// drain reads a little of a body before closing it, so that the connection can be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}

// checkStatus turns an answer other than 200 into an error. Marathon's own message is kept,
// shortened and without control characters, since it often says what is wrong.
func checkStatus(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w (HTTP %d)", ErrAuth, resp.StatusCode)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.Join(strings.FieldsFunc(string(body), func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if msg == "" {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
}
