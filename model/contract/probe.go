package contract

import (
	"bytes"
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

// VersionInfo uses Avi's field names: the API version (x.y.z, Avi's whose API this one
// follows) and the build of avi-init beside it.
type VersionInfo struct {
	Version     string `json:"Version"`
	Build       string `json:"build,omitempty"`
	ProductName string `json:"ProductName,omitempty"`
}

// The API versions the controller serves (X-Avi-Version): Avi's, whose published schema
// (vmware/alb-sdk swagger, 30.2.1) its objects follow, back to the oldest its SDKs still send.
const (
	APIVersion    = "30.2.1"
	MinAPIVersion = "16.1.1"
)

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

// PeerServerName is the TLS server name a controller asks for when it makes an HTTPS request
// of a node of its cluster: the server then asks for its certificate, which names it a node.
const PeerServerName = "peer.cluster.avi-init"

// ClusterPing is the body of GET /api/cluster/ping, which answers the cluster's nodes only.
type ClusterPing struct {
	Name          string `json:"name"`
	Leader        bool   `json:"leader"`
	Role          string `json:"role"`          // CLUSTER_LEADER or CLUSTER_FOLLOWER
	ClusterState  string `json:"cluster_state"` // as GET /api/cluster/runtime's cluster_state.state
	UpSince       string `json:"up_since"`
	ConfigVersion int64  `json:"config_version"`
}

// ProbeCluster asks the controller on this host how its cluster is, showing the controller's
// own certificate (which makes the request a node's): avi-init status, run as root beside it.
func ProbeCluster(ctx context.Context, dataDir string, httpsPort int) (ClusterPing, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dataDir, CertFile), filepath.Join(dataDir, KeyFile))
	if err != nil {
		return ClusterPing{}, fmt.Errorf("probe the cluster: %w", err)
	}
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12, ServerName: PeerServerName, Certificates: []tls.Certificate{cert},
			// The server is this controller: its certificate is the one just read.
			InsecureSkipVerify: true,
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 || !bytes.Equal(raw[0], cert.Leaf.Raw) {
					return fmt.Errorf("the controller on port %d is not the one of %s", httpsPort, dataDir)
				}
				return nil
			},
		}},
	}
	url := "https://127.0.0.1:" + strconv.Itoa(httpsPort) + "/api/cluster/ping"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ClusterPing{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return ClusterPing{}, fmt.Errorf("probe the cluster: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ClusterPing{}, fmt.Errorf("probe the cluster: %s answered %s", url, resp.Status)
	}
	var p ClusterPing
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return ClusterPing{}, fmt.Errorf("probe the cluster: %w", err)
	}
	return p, nil
}
