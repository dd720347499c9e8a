package contract

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/avi-init/avi-init/model/sechannel"
)

// Files in the controller's data directory, relative to it.
const (
	// StoreFile is the configuration store.
	StoreFile = "config.db"
	// SecretsKeyFile holds the key (32 random bytes, 0600) that encrypts the secrets inside the
	// store: password hashes, private keys, Marathon and SMTP passwords. The controller makes
	// it on first start (and at the first start of a version that seals secrets) and does not
	// start without it after that. Keep copies of it apart from copies of config.db, which
	// alone reveal no secret.
	SecretsKeyFile = "secrets.key"
	// SetupFile is where the installer leaves --setup-json. It is applied once, on first boot,
	// then deleted.
	SetupFile = "setup.json"
	// BootstrapTokenFile is where the installer leaves a join token (id and secret, 0600) when
	// it installs a controller and an SE together, so the SE beside it joins with nothing for
	// the operator to copy. The controller adopts it as a join token and deletes the file.
	BootstrapTokenFile = "bootstrap-token"
	// SetupTokenFile holds the one-time setup token (0600) that the setup wizard and POST
	// /api/setup ask for while the controller is not set up, so that whoever reaches the
	// controller first does not become its administrator. The installer writes it before the
	// controller's first start, the controller on first boot if it is absent; the controller
	// deletes it once set up.
	SetupTokenFile = "setup-token"
	// ClusterJoinFile is where the installer leaves --cluster-join (0600): the address of a node
	// of the cluster this fresh controller is to join, and a cluster join token. The controller
	// joins at its first start and deletes the file once it is a voting member.
	ClusterJoinFile = "cluster-join.json"
	// CertFile and KeyFile are the controller's TLS identity. The certificate is what SEs and
	// the supervisor pin; the key never leaves the directory.
	CertFile = "tls/controller.crt"
	KeyFile  = "tls/controller.key"
)

// BootstrapToken is the content of the bootstrap token file.
type BootstrapToken struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// ClusterJoin is the content of the cluster join file.
type ClusterJoin struct {
	Leader string `json:"leader"` // ip or ip:port (the SE port) of a node of the cluster
	Token  string `json:"token"`
	// Joined is set once the cluster took this controller in: a restart then waits to be made
	// a voter rather than joining again.
	Joined bool `json:"joined,omitempty"`
}

// CertHash is the hash join tokens carry of the certificate kept in a controller's data
// directory.
func CertHash(dataDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, CertFile))
	if err != nil {
		return "", fmt.Errorf("read controller certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", errors.New("controller certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("parse controller certificate: %w", err)
	}
	return sechannel.CertHash(cert), nil
}
