// Package sechannel is the protocol between the controller and its service engines on the
// controller's sysint port: join tokens that carry the hash of the controller's certificate (as
// `kubeadm join` does), the join exchange, the stream of versioned configuration snapshots the
// controller pushes, and the heartbeats (with metrics and client logs) the SE sends back.
package sechannel

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/avi-init/avi-init/model/avi"
)

// HeartbeatInterval is how often an SE reports; the controller shows an SE silent for a few
// of them as down.
const HeartbeatInterval = time.Second

// Paths on the controller.
const (
	JoinPath      = "/se/join"
	SnapshotPath  = "/se/snapshots"
	HeartbeatPath = "/se/heartbeat"
	// SEHeader names the SE a request comes from; its credential is the bearer token.
	SEHeader = "X-Avi-SE"
)

// Token is a join token: an id, a secret, and the SHA-256 of the controller certificate's public
// key, so the SE can trust the controller before it has anything else.
type Token struct {
	ID, Secret, CertHash string
}

var tokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})\.sha256:([0-9a-f]{64})$`)

// String is the token as the operator copies it: id.secret.sha256:hash.
func (t Token) String() string { return t.ID + "." + t.Secret + ".sha256:" + t.CertHash }

// ParseToken reads a token.
func ParseToken(s string) (Token, error) {
	m := tokenRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Token{}, errors.New("malformed join token: want <6 chars>.<16 chars>.sha256:<64 hex digits>, as the controller shows it")
	}
	return Token{ID: m[1], Secret: m[2], CertHash: m[3]}, nil
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	for i := range b {
		b[i] = tokenAlphabet[int(b[i])%len(tokenAlphabet)]
	}
	return string(b)
}

// NewToken makes a token for the controller whose certificate hash is given.
func NewToken(certHash string) Token {
	return Token{ID: randomString(6), Secret: randomString(16), CertHash: certHash}
}

// NewCredential makes the long-lived secret an SE authenticates with after joining.
func NewCredential() string { return randomString(40) }

// HashSecret is how the controller keeps token secrets and SE credentials: both are random and
// long, so a plain SHA-256 is enough, and checking one costs nothing.
func HashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// SecretMatches compares a secret with a stored hash in constant time.
func SecretMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(hash)) == 1
}

// CertHash is the hex SHA-256 of a certificate's SubjectPublicKeyInfo.
func CertHash(cert *x509.Certificate) string {
	h := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(h[:])
}

// ErrPinMismatch is the controller presenting a certificate other than the pinned one.
var ErrPinMismatch = errors.New("controller certificate does not match the join token")

// PinnedTLS returns a client TLS configuration that trusts exactly the controller whose public
// key hashes to certHash. The certificate is self-signed, so chain verification is replaced by
// the pin.
func PinnedTLS(certHash string) *tls.Config {
	return PinnedTLSAny(func() []string { return []string{certHash} })
}

// PinnedTLSAny trusts the controllers whose certificates hash to one of pins(): the nodes of a
// cluster, as the SE knows them at each connection.
func PinnedTLSAny(pins func() []string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the pins below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("controller presented no certificate")
			}
			got := CertHash(cs.PeerCertificates[0])
			want := pins()
			for _, pin := range want {
				if subtle.ConstantTimeCompare([]byte(got), []byte(pin)) == 1 {
					return nil
				}
			}
			return fmt.Errorf("%w: it has sha256:%s, the token says sha256:%s", ErrPinMismatch, got, strings.Join(want, " or sha256:"))
		},
	}
}

// ControllerNode is a controller of the cluster an SE may talk to: its SE port and its
// certificate's pin. Any node takes an SE's requests (a follower passes them to the leader).
type ControllerNode struct {
	Addr     string `json:"addr"` // host:port
	CertHash string `json:"cert_hash"`
}

// JoinRequest is what an SE sends to join.
type JoinRequest struct {
	Token    string `json:"token"`
	Name     string `json:"name"`
	Hostname string `json:"hostname,omitempty"`
	MgmtIP   string `json:"mgmt_ip,omitempty"`
	Version  string `json:"version,omitempty"`
	// SEGroup names the service engine group the SE joins (default avi.DefaultSEGroup).
	SEGroup string `json:"se_group,omitempty"`
}

// JoinResponse gives the SE its identity.
type JoinResponse struct {
	SEUUID     string `json:"se_uuid"`
	Credential string `json:"credential"`
	// Controllers are the cluster's nodes, for the SE to go to another when its own is gone.
	Controllers []ControllerNode `json:"controllers,omitempty"`
}

// Snapshot is the whole configuration an SE serves, at one configuration version.
type Snapshot struct {
	Version         int64            `json:"version"`
	VirtualServices []VirtualService `json:"virtual_services"`
}

// VirtualService is a virtual service with everything it refers to resolved.
type VirtualService struct {
	UUID            string        `json:"uuid"`
	Name            string        `json:"name"`
	Enabled         bool          `json:"enabled"`
	VIP             string        `json:"vip,omitempty"` // empty: east-west, every SE listens
	Services        []avi.Service `json:"services"`
	ProfileType     string        `json:"profile_type"` // avi.ProfileHTTP or avi.ProfileL4
	Pool            *Pool         `json:"pool,omitempty"`
	RealtimeMetrics bool          `json:"realtime_metrics"`
	FullClientLogs  bool          `json:"full_client_logs"`
}

// Pool is a pool with its monitors resolved.
type Pool struct {
	UUID           string              `json:"uuid"`
	Name           string              `json:"name"`
	Algorithm      string              `json:"lb_algorithm"`
	Servers        []Server            `json:"servers"`
	HealthMonitors []avi.HealthMonitor `json:"health_monitors,omitempty"`
}

// Server is a pool member with its port decided.
type Server struct {
	IP      string `json:"ip"`
	Port    int    `json:"port"`
	Enabled bool   `json:"enabled"`
	Ratio   int    `json:"ratio"`
}

// Heartbeat is what an SE reports, every HeartbeatInterval.
type Heartbeat struct {
	ConfigVersion int64  `json:"config_version"`
	ConfigError   string `json:"config_error,omitempty"`
	// NotApplied lists the virtual services of the held configuration the SE could not apply,
	// each with its reason; every other one is applied.
	NotApplied []ServiceError `json:"not_applied,omitempty"`
	Metrics    []Metrics      `json:"metrics,omitempty"`
	Logs       []ClientLog    `json:"logs,omitempty"`
	// Leaving: the SE is stopping. The controller moves its north-south services to other SEs
	// while it still serves them, and answers HandedOver once they have taken them.
	Leaving bool `json:"leaving,omitempty"`
}

// HeartbeatAnswer is the controller's answer to a heartbeat.
type HeartbeatAnswer struct {
	ConfigVersion  int64 `json:"config_version"`
	ReportsDropped int64 `json:"reports_dropped"`
	// HandedOver, to a leaving SE: every north-south service it serves is served by the SEs it
	// was moved to (or has none to go to), so that it may let its addresses go.
	HandedOver bool `json:"handed_over,omitempty"`
	// Controllers are the cluster's nodes as they are now: the list follows its membership.
	Controllers []ControllerNode `json:"controllers,omitempty"`
}

// ServiceError is a virtual service an SE could not apply, and why.
type ServiceError struct {
	VSUUID string `json:"vs_uuid"`
	Reason string `json:"reason"`
}

// Metrics are one virtual service's (or one pool member's) counters over an interval.
type Metrics struct {
	VSUUID     string  `json:"vs_uuid"`
	PoolUUID   string  `json:"pool_uuid,omitempty"`
	Server     string  `json:"server,omitempty"` // ip:port for a member, empty for the VS
	Seconds    float64 `json:"seconds"`          // length of the interval
	Requests   int64   `json:"requests"`
	Resp1xx    int64   `json:"resp_1xx"`
	Resp2xx    int64   `json:"resp_2xx"`
	Resp3xx    int64   `json:"resp_3xx"`
	Resp4xx    int64   `json:"resp_4xx"`
	Resp5xx    int64   `json:"resp_5xx"`
	Failed     int64   `json:"failed"` // connections or requests that got no response
	NewConns   int64   `json:"new_conns"`
	OpenConns  int64   `json:"open_conns"`
	BytesIn    int64   `json:"bytes_in"`
	BytesOut   int64   `json:"bytes_out"`
	LatencyP50 float64 `json:"latency_p50_ms"`
	LatencyP90 float64 `json:"latency_p90_ms"`
	LatencyP99 float64 `json:"latency_p99_ms"`
	Up         *bool   `json:"up,omitempty"` // a member's health
	// Reason is why a member is down: the failing monitor and its last result, or the passive
	// failure that took it out.
	Reason string `json:"reason,omitempty"`
}

// ClientLog is one request as the SE saw it.
type ClientLog struct {
	VSUUID         string  `json:"vs_uuid"`
	Timestamp      string  `json:"report_timestamp"`
	ClientIP       string  `json:"client_ip"`
	ClientPort     int     `json:"client_src_port"`
	Method         string  `json:"method,omitempty"`
	URIPath        string  `json:"uri_path,omitempty"`
	ResponseCode   int     `json:"response_code,omitempty"`
	TotalTime      float64 `json:"total_time"` // ms
	ServerIP       string  `json:"server_ip,omitempty"`
	ServerPort     int     `json:"server_port,omitempty"`
	RequestLength  int64   `json:"request_length"`
	ResponseLength int64   `json:"response_length"`
	Significant    bool    `json:"significant"`
}

// Update is one message of the snapshot stream. The first on a stream is full; after that the
// controller sends only what changed since the version it last sent on that stream: virtual
// services added or changed, and the uuids of those removed.
type Update struct {
	Version         int64            `json:"version"`
	Full            bool             `json:"full"`
	BaseVersion     int64            `json:"base_version,omitempty"`
	VirtualServices []VirtualService `json:"virtual_services"`
	Deleted         []string         `json:"deleted,omitempty"`
}

// ErrBaseMismatch is an incremental update for a version the SE does not hold.
var ErrBaseMismatch = errors.New("update is relative to another version")

// State is the configuration an SE holds, updated message by message. An update costs what it
// changes, not the size of the configuration: the virtual services are kept by uuid, with an
// index in snapshot order that moves in place, and each as the controller encoded it, so that
// the SE keeps its configuration on disk without encoding it again. A State is not safe for
// concurrent use.
type State struct {
	version  int64
	byUUID   map[string]*entry
	order    []*entry // by name, then uuid
	needFull bool     // the next update must be full: a stream starts with the whole configuration
}

// entry is one virtual service held, with its encoding (nil: not received encoded). Entries
// are replaced, never changed.
type entry struct {
	vs  VirtualService
	raw []byte
}

// Change is what one update changed in the configuration a State holds.
type Change struct {
	Version int64
	// Changed are the virtual services added or changed, in snapshot order.
	Changed []VirtualService
	// Removed are the uuids of the virtual services no longer held.
	Removed []string
}

// Empty reports whether the change leaves every virtual service as it was.
func (c Change) Empty() bool { return len(c.Changed) == 0 && len(c.Removed) == 0 }

// NewState starts from a snapshot (Version -1 and nothing, for none).
func NewState(s Snapshot) *State {
	st := &State{version: -1, byUUID: map[string]*entry{}}
	st.Apply(Update{Version: s.Version, Full: true, VirtualServices: s.VirtualServices})
	return st
}

// ReadState reads a configuration as its Snapshot encodes (JSON gives it), keeping each
// virtual service's encoding.
func ReadState(data []byte) (*State, error) {
	u, raw, err := decodeUpdate(data)
	if err != nil {
		return nil, err
	}
	u.Full = true
	st := &State{version: -1, byUUID: map[string]*entry{}}
	if _, err := st.apply(u, raw); err != nil {
		return nil, err
	}
	return st, nil
}

// Apply moves the state by an update and returns what it changed. An incremental update for a
// version other than the one held changes nothing.
func (st *State) Apply(u Update) (Change, error) {
	return st.apply(u, make([][]byte, len(u.VirtualServices)))
}

// wireUpdate is an Update as read, each virtual service still encoded.
type wireUpdate struct {
	Version         int64             `json:"version"`
	Full            bool              `json:"full"`
	BaseVersion     int64             `json:"base_version"`
	VirtualServices []json.RawMessage `json:"virtual_services"`
	Deleted         []string          `json:"deleted"`
}

// ApplyJSON is Apply for an update as the stream carries it, keeping each virtual service's
// encoding. An update it cannot read changes nothing.
func (st *State) ApplyJSON(data []byte) (Change, error) {
	u, raw, err := decodeUpdate(data)
	if err != nil {
		return Change{}, err
	}
	return st.apply(u, raw)
}

// decodeUpdate reads an update, and the encoding of each of its virtual services.
func decodeUpdate(data []byte) (Update, [][]byte, error) {
	var w wireUpdate
	if err := json.Unmarshal(data, &w); err != nil {
		return Update{}, nil, fmt.Errorf("decode update: %w", err)
	}
	u := Update{Version: w.Version, Full: w.Full, BaseVersion: w.BaseVersion, Deleted: w.Deleted, VirtualServices: make([]VirtualService, len(w.VirtualServices))}
	raw := make([][]byte, len(w.VirtualServices))
	for i, r := range w.VirtualServices {
		if err := json.Unmarshal(r, &u.VirtualServices[i]); err != nil {
			return Update{}, nil, fmt.Errorf("decode update %d: virtual service %d: %w", w.Version, i, err)
		}
		raw[i] = r
	}
	return u, raw, nil
}

// RequireFull makes the state refuse incremental updates until a full one comes: a new stream
// starts whole, and an update relative to what another stream sent does not belong to it.
func (st *State) RequireFull() { st.needFull = true }

// apply is Apply, raw the encodings of the update's virtual services.
func (st *State) apply(u Update, raw [][]byte) (Change, error) {
	if !u.Full && (st.needFull || u.BaseVersion != st.version) {
		return Change{}, fmt.Errorf("%w: update %d is relative to %d, the SE holds %d (or waits for a full one)", ErrBaseMismatch, u.Version, u.BaseVersion, st.version)
	}
	// The last of a uuid sent twice wins.
	last := make(map[string]int, len(u.VirtualServices))
	for i, v := range u.VirtualServices {
		last[v.UUID] = i
	}
	ch := Change{Version: u.Version}
	removed := u.Deleted
	if u.Full {
		removed = nil
		for id := range st.byUUID {
			removed = append(removed, id)
		}
	}
	for _, id := range removed {
		if _, sent := last[id]; sent {
			continue
		}
		if e, ok := st.byUUID[id]; ok {
			if !u.Full {
				st.unindex(e)
			}
			delete(st.byUUID, id)
			ch.Removed = append(ch.Removed, id)
		}
	}
	for i, v := range u.VirtualServices {
		if last[v.UUID] != i {
			continue
		}
		e := &entry{vs: v, raw: raw[i]}
		old, ok := st.byUUID[v.UUID]
		if ok && old.sameAs(e) {
			continue
		}
		if ok && !u.Full {
			st.unindex(old)
		}
		st.byUUID[v.UUID] = e
		if !u.Full {
			st.index(e)
		}
		ch.Changed = append(ch.Changed, v)
	}
	slices.SortFunc(ch.Changed, compareVS)
	if u.Full {
		// Sorted once rather than moved into place one by one.
		st.order = slices.SortedFunc(maps.Values(st.byUUID), func(a, b *entry) int { return compareVS(a.vs, b.vs) })
		st.needFull = false
	}
	st.version = u.Version
	return ch, nil
}

// sameAs reports whether two entries hold the same virtual service: by their encodings when
// both were received encoded, else by value.
func (e *entry) sameAs(o *entry) bool {
	if e.raw != nil && o.raw != nil {
		return bytes.Equal(e.raw, o.raw)
	}
	return reflect.DeepEqual(e.vs, o.vs)
}

// position is where e is, or goes, in the index.
func (st *State) position(e *entry) (int, bool) {
	return slices.BinarySearchFunc(st.order, e, func(a, b *entry) int { return compareVS(a.vs, b.vs) })
}

func (st *State) index(e *entry) {
	i, _ := st.position(e)
	st.order = slices.Insert(st.order, i, e)
}

func (st *State) unindex(e *entry) {
	if i, found := st.position(e); found {
		st.order = slices.Delete(st.order, i, i+1)
	}
}

// compareVS is the order of a snapshot's virtual services: by name, then uuid.
func compareVS(a, b VirtualService) int {
	if c := cmp.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return cmp.Compare(a.UUID, b.UUID)
}

// Version is the version the state holds.
func (st *State) Version() int64 { return st.version }

// Len is how many virtual services the state holds.
func (st *State) Len() int { return len(st.order) }

// All yields the virtual services held, in snapshot order. The state must not change meanwhile.
func (st *State) All() iter.Seq[VirtualService] {
	return func(yield func(VirtualService) bool) {
		for _, e := range st.order {
			if !yield(e.vs) {
				return
			}
		}
	}
}

// Lookup is the virtual service held with a uuid.
func (st *State) Lookup(uuid string) (VirtualService, bool) {
	if e, ok := st.byUUID[uuid]; ok {
		return e.vs, true
	}
	return VirtualService{}, false
}

// Snapshot is a copy of the whole configuration held.
func (st *State) Snapshot() Snapshot {
	s := Snapshot{Version: st.version, VirtualServices: make([]VirtualService, 0, len(st.order))}
	for _, e := range st.order {
		s.VirtualServices = append(s.VirtualServices, e.vs)
	}
	return s
}

// JSON is the configuration held as its Snapshot encodes, made from each virtual service's
// encoding as received rather than encoded again.
func (st *State) JSON() []byte {
	size := 64
	for _, e := range st.order {
		size += len(e.raw) + 1
	}
	b := fmt.Appendf(make([]byte, 0, size), `{"version":%d,"virtual_services":[`, st.version)
	for i, e := range st.order {
		if i > 0 {
			b = append(b, ',')
		}
		r := e.raw
		if r == nil {
			r, _ = json.Marshal(e.vs) // plain data: cannot fail
		}
		b = append(b, r...)
	}
	return append(b, "]}"...)
}
