// Package controller is the control plane runtime that runs inside the avicontroller
// container. This first cut serves its identity and setup state over HTTPS; the API, UI, store
// and SE channel are built on this server.
package controller

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/avi-init/avi-init/version"
)

// Config is what the controller needs to start.
type Config struct {
	DataDir    string
	IP         string // management IP, added to the certificate
	HTTPSPort  int
	HTTPPort   int
	SysintPort int
	DNSPort    int
	Logger     *slog.Logger
}

// InitialData is the body of GET /api/initial-data: what a client may learn before logging in.
type InitialData struct {
	Version          VersionInfo `json:"version"`
	UserInitialSetup bool        `json:"user_initial_setup"`
	SetupState       string      `json:"setup_state"`
}

// VersionInfo uses Avi's field names.
type VersionInfo struct {
	Version string `json:"Version"`
}

// Run serves until ctx is cancelled, then shuts the listeners down gracefully.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	var ips []net.IP
	if ip := net.ParseIP(cfg.IP); ip != nil {
		ips = append(ips, ip)
	}
	cert, err := loadOrCreateCert(cfg.DataDir, ips, time.Now())
	if err != nil {
		return err
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}

	api := http.NewServeMux()
	api.HandleFunc("GET /api/initial-data", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, InitialData{
			Version:          VersionInfo{Version: version.Version},
			UserInitialSetup: true,
			SetupState:       "pending",
		})
	})
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if cfg.HTTPSPort != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(cfg.HTTPSPort))
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusMovedPermanently)
	})

	servers := []struct {
		port    int
		handler http.Handler
		tls     bool
	}{
		{cfg.HTTPSPort, api, true},
		{cfg.SysintPort, api, true},
		{cfg.HTTPPort, redirect, false},
	}
	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	for _, s := range servers {
		l, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(s.port)))
		if err != nil {
			closeAll()
			return fmt.Errorf("listen on port %d: %w", s.port, err)
		}
		if s.tls {
			l = tls.NewListener(l, tlsConf)
		}
		listeners = append(listeners, l)
	}

	errs := make(chan error, len(servers))
	var httpServers []*http.Server
	var wg sync.WaitGroup
	for i, s := range servers {
		srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		httpServers = append(httpServers, srv)
		wg.Add(1)
		go func(l net.Listener) {
			defer wg.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}(listeners[i])
	}
	log.Info("controller ready", "version", version.Version, "https_port", cfg.HTTPSPort, "http_port", cfg.HTTPPort, "sysint_port", cfg.SysintPort)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, srv := range httpServers {
		srv.Shutdown(shutdown)
	}
	wg.Wait()
	log.Info("controller stopped")
	return runErr
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
