// Command backend is the HTTP server the end-to-end tests run in containers behind the SE: it
// answers / with its host name (so a test sees which member served), /100kb.txt with 100 KB,
// and echoes a request body's length on POST /upload. It is built statically and packed into an
// image by the tests; nothing is pulled.
//
// GET /healthz answers 200 "ok" while the backend is healthy and 503 while it is not; POST
// /healthz/down and POST /healthz/up switch it, so a test can fail a Docker HEALTHCHECK without
// stopping the container.
//
//	backend [--listen ADDR] [--drain D]   serve on ADDR (default :8080)
//	backend --check URL                   GET URL within 2 s; exit 0 on 200, 1 otherwise
//
// On SIGTERM it closes at once, or with --drain goes on serving for D and then shuts down
// gracefully, as a well-behaved application does while its load balancer takes it out.
//
// --check is the HEALTHCHECK command: the image holds nothing but this binary, so no shell or
// curl could run one. Other arguments are ignored: the image passes its role name ("backend").
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	addr, check := ":8080", ""
	var drain time.Duration
	for i := 1; i+1 < len(os.Args); i++ {
		switch os.Args[i] {
		case "--drain":
			d, err := time.ParseDuration(os.Args[i+1])
			if err != nil {
				log.Fatalf("--drain: %v", err)
			}
			drain = d
			i++
		case "--listen":
			addr = os.Args[i+1]
			i++
		case "--check":
			check = os.Args[i+1]
			i++
		}
	}
	if check != "" {
		if err := checkHealth(check); err != nil {
			fmt.Fprintf(os.Stderr, "backend: %v\n", err)
			os.Exit(1)
		}
		return
	}
	serve(addr, drain)
}

// checkHealth GETs url and wants 200. The 2 s bound ends a check of a hung backend even under a
// HEALTHCHECK with no --timeout, whose default is 30 s.
func checkHealth(url string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func serve(addr string, drain time.Duration) {
	name, _ := os.Hostname()
	big := strings.Repeat("0123456789abcdef", 100*1024/16)
	var healthy atomic.Bool
	healthy.Store(true)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "from %s\n", name) })
	mux.HandleFunc("GET /100kb.txt", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) })
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d\n", n)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /healthz/down", func(w http.ResponseWriter, r *http.Request) {
		healthy.Store(false)
		io.WriteString(w, "down\n")
	})
	mux.HandleFunc("POST /healthz/up", func(w http.ResponseWriter, r *http.Request) {
		healthy.Store(true)
		io.WriteString(w, "up\n")
	})
	srv := &http.Server{Addr: addr, Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		if drain == 0 {
			srv.Close()
			return
		}
		time.Sleep(drain)
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
