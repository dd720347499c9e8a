package contract

import (
	"bytes"
	"encoding/json"

	"github.com/avi-init/avi-init/model/avi"
)

// SetupRequest is the first-boot configuration: the wizard posts it, --setup-json carries it
// (through SetupFile).
type SetupRequest struct {
	Admin               *AdminAccount            `json:"admin"`
	SystemConfiguration *avi.SystemConfiguration `json:"systemconfiguration,omitempty"`
	Cloud               *avi.Cloud               `json:"cloud,omitempty"`
	CloudConnectorUser  *avi.CloudConnectorUser  `json:"cloudconnectoruser,omitempty"`
	// KeyID names a key pair the wizard generated with POST /api/setup/keypair.
	KeyID string `json:"cloudconnectoruser_key_id,omitempty"`
	// SetupToken is the one-time token of SetupTokenFile, which the wizard and POST /api/setup
	// need; the setup file needs none (whoever can write it owns the controller already).
	SetupToken string `json:"setup_token,omitempty"`
}

// AdminAccount is the first administrator.
type AdminAccount struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// ParseSetup reads a setup request strictly: unknown fields are errors naming the field. The
// installer uses it to check --setup-json before installing; the controller before applying it.
func ParseSetup(data []byte) (*SetupRequest, error) {
	var req SetupRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, avi.JSONFieldError(err)
	}
	if req.Admin == nil || req.Admin.Username == "" || req.Admin.Password == "" {
		return nil, &avi.FieldError{Field: "admin", Reason: "username and password are required"}
	}
	if err := avi.CheckPasswordStrength(req.Admin.Password); err != nil {
		return nil, &avi.FieldError{Field: "admin.password", Reason: err.Error()}
	}
	return &req, nil
}
