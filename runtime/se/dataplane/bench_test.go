package dataplane

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/sechannel"
)

// rawBackend answers every request on a kept-alive connection with the same response, as
// cheaply as it can, so that a benchmark measures the proxy.
func rawBackend(b *testing.B, bodySize int) sechannel.Server {
	body := bytes.Repeat([]byte("x"), bodySize)
	resp := append([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n", bodySize)), body...)
	return tcpServer(b, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := readHead(br); err != nil {
				return
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
}

// benchClient sends b.N keep-alive GETs over conns connections and reads each response whole.
func benchClient(b *testing.B, addr string, conns int) {
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	req := []byte("GET /small HTTP/1.1\r\nHost: bench\r\nUser-Agent: wrk\r\n\r\n")
	b.ResetTimer()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			br := bufio.NewReaderSize(c, 64<<10)
			for left.Add(-1) >= 0 {
				if _, err := c.Write(req); err != nil {
					b.Error(err)
					return
				}
				head, err := readHead(br)
				if err != nil {
					b.Error(err)
					return
				}
				if !bytes.HasPrefix(head, []byte("HTTP/1.1 200")) {
					b.Errorf("response %q", head)
					return
				}
				i := bytes.Index(head, []byte("Content-Length: "))
				j := bytes.IndexByte(head[i:], '\r')
				n, _ := strconv.Atoi(string(head[i+16 : i+j]))
				if _, err := br.Discard(n); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func benchProxy(b *testing.B, profile string, bodySize int) {
	addr := proxy(b, profile, rawBackend(b, bodySize))
	b.ReportAllocs()
	b.SetBytes(int64(bodySize))
	benchClient(b, addr, 16)
}

// go test -run '^$' -bench Proxy -benchmem -cpuprofile cpu.out ./runtime/se/dataplane/
func BenchmarkProxyL7Small(b *testing.B) { benchProxy(b, avi.ProfileHTTP, 6) }
func BenchmarkProxyL7Large(b *testing.B) { benchProxy(b, avi.ProfileHTTP, 100<<10) }
func BenchmarkProxyL4Small(b *testing.B) { benchProxy(b, avi.ProfileL4, 6) }
func BenchmarkProxyL4Large(b *testing.B) { benchProxy(b, avi.ProfileL4, 100<<10) }

// BenchmarkProxyL4Connect opens a client connection per exchange: it measures what an L4
// connection costs before its bytes flow (accept, pick a member, dial, first exchange).
func BenchmarkProxyL4Connect(b *testing.B) {
	addr := proxy(b, avi.ProfileL4, rawBackend(b, 6))
	req := []byte("GET /small HTTP/1.1\r\nHost: bench\r\n\r\n")
	b.ReportAllocs()
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 4 {
		wg.Go(func() {
			buf := make([]byte, 4096)
			for left.Add(-1) >= 0 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				_, err = c.Write(req)
				if err == nil {
					_, err = c.Read(buf)
				}
				c.Close()
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
func BenchmarkReadAndParseHead(b *testing.B) {
	req := []byte("GET /small HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n")
	var h requestHead
	b.ReportAllocs()
	for b.Loop() {
		if err := parseRequestHead(req, &h); err != nil {
			b.Fatal(err)
		}
	}
}
