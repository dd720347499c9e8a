// Package analytics keeps what service engines report: per virtual service and per pool member
// time series, at realtime resolution (5 s, the last hour) while a virtual service asks for it
// and at 5-minute resolution (the last day) always, and client logs, bounded in memory and, on
// disk, by the log space the controller was given.
package analytics

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/avi-init/avi-init/model/sechannel"
)

// Resolutions and how many buckets each keeps.
const (
	RealtimeStep    = 5 * time.Second
	RealtimeBuckets = 720 // one hour
	CoarseStep      = 5 * time.Minute
	CoarseBuckets   = 288 // one day
	logsPerVS       = 2000
)

// bucket sums what every SE reported within one step.
type bucket struct {
	start                          int64 // unix seconds; 0: empty
	requests, r1, r2, r3, r4, r5   float64
	failed, newConns, bytes        float64
	openConns                      float64
	latWeight, p50, p90, p99       float64 // request-weighted sums
	membersUp, membersTotal, hasUp float64
}

// ring is a fixed number of buckets of one step.
type ring struct {
	step    int64
	buckets []bucket
}

func newRing(step time.Duration, n int) *ring {
	return &ring{step: int64(step / time.Second), buckets: make([]bucket, n)}
}

func (r *ring) at(t time.Time) *bucket {
	start := t.Unix() / r.step * r.step
	b := &r.buckets[(start/r.step)%int64(len(r.buckets))]
	if b.start != start {
		*b = bucket{start: start}
	}
	return b
}

func (b *bucket) add(m sechannel.Metrics) {
	b.requests += float64(m.Requests)
	b.r1 += float64(m.Resp1xx)
	b.r2 += float64(m.Resp2xx)
	b.r3 += float64(m.Resp3xx)
	b.r4 += float64(m.Resp4xx)
	b.r5 += float64(m.Resp5xx)
	b.failed += float64(m.Failed)
	b.newConns += float64(m.NewConns)
	b.bytes += float64(m.BytesIn + m.BytesOut)
	b.openConns = max(b.openConns, float64(m.OpenConns))
	if m.Requests > 0 {
		w := float64(m.Requests)
		b.latWeight += w
		b.p50 += w * m.LatencyP50
		b.p90 += w * m.LatencyP90
		b.p99 += w * m.LatencyP99
	}
	if m.Up != nil {
		b.addMember(*m.Up)
	}
}

// addMember counts one report of a member's health.
func (b *bucket) addMember(up bool) {
	b.hasUp = 1
	b.membersTotal++
	if up {
		b.membersUp++
	}
}

// Metric ids (Avi's names where Avi has one), with their units and how a bucket yields them.
var metricDefs = map[string]struct {
	units string
	value func(b *bucket, secs float64) float64
}{
	"l7_client.avg_complete_responses":    {"PER_SECOND", func(b *bucket, s float64) float64 { return b.requests / s }},
	"l7_client.avg_resp_1xx":              {"PER_SECOND", func(b *bucket, s float64) float64 { return b.r1 / s }},
	"l7_client.avg_resp_2xx":              {"PER_SECOND", func(b *bucket, s float64) float64 { return b.r2 / s }},
	"l7_client.avg_resp_3xx":              {"PER_SECOND", func(b *bucket, s float64) float64 { return b.r3 / s }},
	"l7_client.avg_resp_4xx":              {"PER_SECOND", func(b *bucket, s float64) float64 { return b.r4 / s }},
	"l7_client.avg_resp_5xx":              {"PER_SECOND", func(b *bucket, s float64) float64 { return b.r5 / s }},
	"l7_client.avg_error_responses":       {"PER_SECOND", func(b *bucket, s float64) float64 { return (b.r4 + b.r5 + b.failed) / s }},
	"l4_client.avg_bandwidth":             {"BYTES_PER_SECOND", func(b *bucket, s float64) float64 { return b.bytes / s }},
	"l4_client.max_open_conns":            {"CONNECTIONS", func(b *bucket, _ float64) float64 { return b.openConns }},
	"l4_client.avg_new_established_conns": {"PER_SECOND", func(b *bucket, s float64) float64 { return b.newConns / s }},
	"l7_client.pct_latency_p50":           {"MILLISECONDS", func(b *bucket, _ float64) float64 { return ratio(b.p50, b.latWeight) }},
	"l7_client.pct_latency_p90":           {"MILLISECONDS", func(b *bucket, _ float64) float64 { return ratio(b.p90, b.latWeight) }},
	"l7_client.pct_latency_p99":           {"MILLISECONDS", func(b *bucket, _ float64) float64 { return ratio(b.p99, b.latWeight) }},
	"healthscore.health_score_value":      {"SCORE", func(b *bucket, _ float64) float64 { return health(b) }},
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// health is 100 scaled down by the share of failed answers and of members down.
func health(b *bucket) float64 {
	h := 100.0
	if total := b.requests + b.failed; total > 0 {
		h *= 1 - (b.r5+b.failed)/total
	}
	if b.hasUp > 0 && b.membersTotal > 0 {
		h *= b.membersUp / b.membersTotal
	}
	return h
}

// MetricIDs lists the metric ids, sorted.
func MetricIDs() []string {
	var out []string
	for id := range metricDefs {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Store holds the series and logs.
type Store struct {
	mu       sync.Mutex
	now      func() time.Time
	realtime func(vsUUID string) bool
	coarse   map[string]*ring // entity key
	fine     map[string]*ring
	logs     map[string][]sechannel.ClientLog // vs uuid, ring by next index
	next     map[string]int
	disk     *LogFiles
}

// New makes a store. realtime says whether a virtual service wants realtime metrics; logs, when
// not nil, keeps client logs on disk within its size.
func New(now func() time.Time, realtime func(vsUUID string) bool, disk *LogFiles) *Store {
	return &Store{now: now, realtime: realtime, coarse: map[string]*ring{}, fine: map[string]*ring{},
		logs: map[string][]sechannel.ClientLog{}, next: map[string]int{}, disk: disk}
}

// MemberKey is the entity key of a pool member: pool uuid/ip:port. (A virtual service's and a
// pool's are their uuids.)
func MemberKey(pool, server string) string { return pool + "/" + server }

// Ingest adds one SE's report. Client logs are written to disk after the in-memory series and
// logs are updated, outside their lock, so that queries do not wait on the disk.
func (s *Store) Ingest(metrics []sechannel.Metrics, logs []sechannel.ClientLog) {
	s.ingest(metrics, logs)
	if s.disk != nil && len(logs) > 0 {
		s.disk.append(logs)
	}
}

func (s *Store) ingest(metrics []sechannel.Metrics, logs []sechannel.ClientLog) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range metrics {
		realtime := s.realtime(m.VSUUID)
		if m.Server == "" {
			s.each(m.VSUUID, realtime, now, func(b *bucket) { b.add(m) })
			continue
		}
		for _, k := range []string{MemberKey(m.PoolUUID, m.Server), m.PoolUUID} {
			s.each(k, realtime, now, func(b *bucket) { b.add(m) })
		}
		// The service's own health counts its members: its score drops with each one down.
		if m.Up != nil {
			s.each(m.VSUUID, realtime, now, func(b *bucket) { b.addMember(*m.Up) })
		}
	}
	for _, l := range logs {
		ring := s.logs[l.VSUUID]
		if len(ring) < logsPerVS {
			s.logs[l.VSUUID] = append(ring, l)
		} else {
			ring[s.next[l.VSUUID]] = l
		}
		s.next[l.VSUUID] = (s.next[l.VSUUID] + 1) % logsPerVS
	}
}

// each calls f with an entity's current buckets: the coarse one, and the realtime one when
// realtime. The caller holds s.mu.
func (s *Store) each(k string, realtime bool, now time.Time, f func(*bucket)) {
	if k == "" {
		return
	}
	r, ok := s.coarse[k]
	if !ok {
		r = newRing(CoarseStep, CoarseBuckets)
		s.coarse[k] = r
	}
	f(r.at(now))
	if realtime {
		fr, ok := s.fine[k]
		if !ok {
			fr = newRing(RealtimeStep, RealtimeBuckets)
			s.fine[k] = fr
		}
		f(fr.at(now))
	}
}

// Point is one value of a series.
type Point struct {
	Timestamp string  `json:"timestamp"`
	Value     float64 `json:"value"`
}

// Series is one metric of one entity over time.
type Series struct {
	Header struct {
		Name       string `json:"name"`
		EntityUUID string `json:"entity_uuid"`
		Units      string `json:"units"`
	} `json:"header"`
	Data []Point `json:"data"`
}

// Query returns the asked metrics of an entity, oldest first, up to limit points of the given
// step (realtime only while the entity has realtime data).
func (s *Store) Query(entity string, metricIDs []string, step time.Duration, limit int) ([]Series, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.coarse[entity]
	if step == RealtimeStep {
		r = s.fine[entity]
	}
	// The ring's filled buckets, oldest first, the last limit of them.
	var bs []*bucket
	if r != nil {
		for i := range r.buckets {
			if r.buckets[i].start != 0 {
				bs = append(bs, &r.buckets[i])
			}
		}
		sort.Slice(bs, func(i, j int) bool { return bs[i].start < bs[j].start })
		if limit > 0 && len(bs) > limit {
			bs = bs[len(bs)-limit:]
		}
	}
	var out []Series
	for _, id := range metricIDs {
		def, ok := metricDefs[id]
		if !ok {
			return nil, &UnknownMetricError{ID: id}
		}
		var sr Series
		sr.Header.Name, sr.Header.EntityUUID, sr.Header.Units = id, entity, def.units
		sr.Data = make([]Point, 0, len(bs))
		for _, b := range bs {
			sr.Data = append(sr.Data, Point{Timestamp: time.Unix(b.start, 0).UTC().Format(time.RFC3339), Value: def.value(b, float64(r.step))})
		}
		out = append(out, sr)
	}
	return out, nil
}

// Latest returns a metric's value in the current coarse bucket of an entity, and false when
// there is no data for it.
func (s *Store) Latest(entity, metricID string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.coarse[entity]
	def, known := metricDefs[metricID]
	if !ok || !known {
		return 0, false
	}
	b := r.at(s.now())
	if b.requests == 0 && b.failed == 0 && b.newConns == 0 && b.hasUp == 0 {
		return 0, false
	}
	return def.value(b, float64(r.step)), true
}

// Logs returns up to n of a virtual service's client logs, newest first.
func (s *Store) Logs(vsUUID string, n int) []sechannel.ClientLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	ring := s.logs[vsUUID]
	out := make([]sechannel.ClientLog, 0, min(n, len(ring)))
	for i := 1; i <= len(ring) && len(out) < n; i++ {
		idx := (s.next[vsUUID] - i + len(ring)) % len(ring)
		out = append(out, ring[idx])
	}
	return out
}

// UnknownMetricError names a metric id the store does not have.
type UnknownMetricError struct{ ID string }

func (e *UnknownMetricError) Error() string {
	return "metric_id: unknown " + e.ID + "; known: " + strings.Join(MetricIDs(), ", ")
}
