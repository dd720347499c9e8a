package contract

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// InitialData is the body of GET /api/initial-data: what a client may learn before logging in,
// and what the controller's readiness probe reads.
type InitialData struct {
	Version          VersionInfo `json:"version"`
	UserInitialSetup bool        `json:"user_initial_setup"`
	SetupState       string      `json:"setup_state"` // pending or complete
}

// VersionInfo uses Avi's field names.
type VersionInfo struct {
	Version string `json:"Version"`
}

// ProbeController asks the controller on this host for its initial data, trusting only the
// certificate kept in its data directory. It is the readiness check of the supervisor, the
// installer and the container's health check.
func ProbeController(ctx context.Context, dataDir string, httpsPort int) (InitialData, error) {
	pemBytes, err := os.ReadFile(filepath.Join(dataDir, CertFile))
	if err != nil {
		return InitialData{}, fmt.Errorf("probe controller: read its certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return InitialData{}, fmt.Errorf("probe controller: %s holds no certificate", CertFile)
	}
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		},
	}
	url := "https://127.0.0.1:" + strconv.Itoa(httpsPort) + "/api/initial-data"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return InitialData{}, fmt.Errorf("probe controller: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return InitialData{}, fmt.Errorf("probe controller: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return InitialData{}, fmt.Errorf("probe controller: %s answered %s", url, resp.Status)
	}
	var data InitialData
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		return InitialData{}, fmt.Errorf("probe controller: decode %s: %w", url, err)
	}
	return data, nil
}

// ProbeSE reports whether the SE whose data directory is given has joined and holds a
// configuration: the readiness check of its container and supervisor.
func ProbeSE(dataDir string) error {
	for _, f := range []string{SEIdentityFile, SEConfigFile} {
		if _, err := os.Stat(filepath.Join(dataDir, f)); err != nil {
			return fmt.Errorf("probe SE: %w", err)
		}
	}
	return nil
}
