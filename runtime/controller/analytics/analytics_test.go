package analytics

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/avi-init/avi-init/model/sechannel"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestSeriesAggregateAcrossSEsAndResolutions(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 21, 12, 0, 1, 0, time.UTC)}
	realtime := map[string]bool{"vs-rt": true}
	s := New(c.now, func(vs string) bool { return realtime[vs] }, nil)
	report := func(vs string, requests, r5 int64, p99 float64) {
		s.Ingest([]sechannel.Metrics{{VSUUID: vs, Seconds: 5, Requests: requests, Resp2xx: requests - r5, Resp5xx: r5, LatencyP99: p99}}, nil)
	}
	// Two SEs report into the same 5 s bucket.
	report("vs-rt", 50, 0, 10)
	report("vs-rt", 50, 10, 30)
	series, err := s.Query("vs-rt", []string{"l7_client.avg_complete_responses", "l7_client.pct_latency_p99", "l7_client.avg_resp_5xx", "healthscore.health_score_value"}, RealtimeStep, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{100.0 / 5, 20, 10.0 / 5, 90}
	for i, sr := range series {
		if len(sr.Data) != 1 || sr.Data[0].Value != want[i] {
			t.Errorf("%s = %+v, want one point of %v", sr.Header.Name, sr.Data, want[i])
		}
	}
	// The next bucket is a new point; the coarse series sums both.
	c.t = c.t.Add(5 * time.Second)
	report("vs-rt", 25, 0, 5)
	series, _ = s.Query("vs-rt", []string{"l7_client.avg_complete_responses"}, RealtimeStep, 10)
	if len(series[0].Data) != 2 || series[0].Data[1].Value != 5 {
		t.Errorf("second realtime bucket: %+v", series[0].Data)
	}
	coarse, _ := s.Query("vs-rt", []string{"l7_client.avg_complete_responses"}, CoarseStep, 10)
	if len(coarse[0].Data) != 1 || coarse[0].Data[0].Value != 125.0/300 {
		t.Errorf("coarse series: %+v, want 125 requests over 300 s", coarse[0].Data)
	}
	// Without realtime metrics, only the coarse series is kept.
	report("vs-slow", 10, 0, 1)
	if fine, _ := s.Query("vs-slow", []string{"l7_client.avg_complete_responses"}, RealtimeStep, 10); len(fine[0].Data) != 0 {
		t.Errorf("realtime series kept for a VS without realtime metrics: %+v", fine[0].Data)
	}
	if _, err := s.Query("vs-rt", []string{"nope"}, CoarseStep, 1); err == nil {
		t.Error("unknown metric accepted")
	}
}

func TestRingIsBounded(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}
	s := New(c.now, func(string) bool { return true }, nil)
	for range RealtimeBuckets * 3 {
		s.Ingest([]sechannel.Metrics{{VSUUID: "vs", Requests: 1}}, nil)
		c.t = c.t.Add(RealtimeStep)
	}
	series, _ := s.Query("vs", []string{"l7_client.avg_complete_responses"}, RealtimeStep, RealtimeBuckets*3)
	if n := len(series[0].Data); n != RealtimeBuckets {
		t.Errorf("realtime series holds %d points after 3 hours, want %d (one hour)", n, RealtimeBuckets)
	}
}

func TestLogsNewestFirstAndBoundedOnDisk(t *testing.T) {
	dir := t.TempDir()
	files, err := NewLogFiles(dir, 4<<20) // 1 MiB a file, four files
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	s := New(time.Now, func(string) bool { return false }, files)
	long := make([]byte, 2000)
	for i := range long {
		long[i] = 'a'
	}
	for i := range 5000 {
		s.Ingest(nil, []sechannel.ClientLog{{VSUUID: "vs", ClientPort: i, URIPath: "/" + string(long)}})
	}
	logs := s.Logs("vs", 3)
	if len(logs) != 3 || logs[0].ClientPort != 4999 || logs[2].ClientPort != 4997 {
		t.Errorf("newest logs: %+v", logs)
	}
	if n := len(s.Logs("vs", 100000)); n != logsPerVS {
		t.Errorf("memory keeps %d logs, want %d", n, logsPerVS)
	}
	var total int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, _ := e.Info()
		total += fi.Size()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	if total > 4<<20 || len(entries) != logFileCount {
		t.Errorf("client logs on disk: %d bytes in %d files, want at most 4 MiB in %d", total, len(entries), logFileCount)
	}
	f, _ := os.Open(filepath.Join(dir, "client-logs.0.ndjson"))
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<16)
	if !sc.Scan() {
		t.Error("the newest log file is empty")
	}
}

// A service's health series counts its pool's members: one of two down halves it, though the
// member reports carry no traffic of the service's own.
func TestHealthSeriesCountsMembersDown(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 5, 9, 0, 1, 0, time.UTC)}
	s := New(c.now, func(string) bool { return true }, nil)
	up, down := true, false
	s.Ingest([]sechannel.Metrics{
		{VSUUID: "vs", Seconds: 5, Requests: 10, Resp2xx: 10},
		{VSUUID: "vs", PoolUUID: "p", Server: "192.0.2.21:80", Seconds: 5, Up: &up},
		{VSUUID: "vs", PoolUUID: "p", Server: "192.0.2.22:80", Seconds: 5, Up: &down, Reason: "hm: refused"},
	}, nil)
	series, err := s.Query("vs", []string{"healthscore.health_score_value", "l7_client.avg_complete_responses"}, RealtimeStep, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := series[0].Data; len(got) != 1 || got[0].Value != 50 {
		t.Errorf("health series %+v, want 50 with one of two members down", got)
	}
	if got := series[1].Data; len(got) != 1 || got[0].Value != 2 {
		t.Errorf("requests/s %+v, want the service's own 10 over 5 s, not counting member reports", got)
	}
}
