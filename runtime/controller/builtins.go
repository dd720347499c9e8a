package controller

import (
	"encoding/json"
	"fmt"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// lookupBuiltIns are the objects Avi's automation looks up by name before it creates anything
// (the Terraform provider's data sources, the SDKs' get_object_by_name), as Avi names them. They
// are written as a client would, in Avi's schema, and are created once.
var lookupBuiltIns = []struct {
	kind avi.Kind
	doc  string
}{
	{avi.KindSSLProfile, `{"name": "System-Standard", "type": "SSL_PROFILE_TYPE_APPLICATION",
		"accepted_versions": [{"type": "SSL_VERSION_TLS1_2"}, {"type": "SSL_VERSION_TLS1_3"}]}`},
	{avi.KindSSLProfile, `{"name": "System-Standard-PFS", "type": "SSL_PROFILE_TYPE_APPLICATION",
		"accepted_versions": [{"type": "SSL_VERSION_TLS1_2"}, {"type": "SSL_VERSION_TLS1_3"}]}`},
	{avi.KindNetworkProfile, `{"name": "System-TCP-Proxy", "profile": {"type": "PROTOCOL_TYPE_TCP_PROXY"}}`},
	{avi.KindNetworkProfile, `{"name": "System-TCP-Fast-Path", "profile": {"type": "PROTOCOL_TYPE_TCP_FAST_PATH"}}`},
	{avi.KindNetworkProfile, `{"name": "System-UDP-Fast-Path", "profile": {"type": "PROTOCOL_TYPE_UDP_FAST_PATH"}}`},
	{avi.KindApplicationPersistenceProfile, `{"name": "System-Persistence-Client-IP", "persistence_type": "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS"}`},
	{avi.KindApplicationPersistenceProfile, `{"name": "System-Persistence-Http-Cookie", "persistence_type": "PERSISTENCE_TYPE_HTTP_COOKIE"}`},
	{avi.KindApplicationPersistenceProfile, `{"name": "System-Persistence-TLS", "persistence_type": "PERSISTENCE_TYPE_TLS"}`},
	{avi.KindApplicationPersistenceProfile, `{"name": "System-Persistence-Custom-HTTP-Header", "persistence_type": "PERSISTENCE_TYPE_CUSTOM_HTTP_HEADER"}`},
	{avi.KindApplicationPersistenceProfile, `{"name": "System-Persistence-App-Cookie", "persistence_type": "PERSISTENCE_TYPE_APP_COOKIE"}`},
	{avi.KindAnalyticsProfile, `{"name": "System-Analytics-Profile"}`},
	{avi.KindControllerProperties, `{"name": "controllerproperties"}`},
}

// systemDefaultCert is the certificate Avi has built in for services that name none.
const systemDefaultCert = "System-Default-Cert"

// ensureLookupBuiltIns creates the lookup built-ins that do not exist yet, System-Default-Cert
// with a self-signed certificate and key of its own.
func (s *Server) ensureLookupBuiltIns(tx *store.Tx) error {
	for _, b := range lookupBuiltIns {
		k, _ := b.kind.Info()
		o, err := avi.Decode(k, []byte(b.doc))
		if err != nil {
			return fmt.Errorf("built-in %s: %w", b.kind, err)
		}
		if _, ok := tx.ByName(b.kind, o.GetMeta().Name); ok || k.Singleton && len(tx.List(b.kind)) > 0 {
			continue
		}
		if err := tx.Create(o); err != nil {
			return fmt.Errorf("built-in %s %s: %w", b.kind, o.GetMeta().Name, err)
		}
	}
	if _, ok := tx.ByName(avi.KindSSLKeyAndCertificate, systemDefaultCert); ok {
		return nil
	}
	certPEM, keyPEM, err := selfSigned(nil, s.now())
	if err != nil {
		return err
	}
	doc, _ := json.Marshal(map[string]any{"name": systemDefaultCert, "type": "SSL_CERTIFICATE_TYPE_VIRTUALSERVICE",
		"certificate": map[string]any{"certificate": string(certPEM), "self_signed": true}, "key": string(keyPEM)})
	k, _ := avi.KindSSLKeyAndCertificate.Info()
	o, err := avi.Decode(k, doc)
	if err != nil {
		return fmt.Errorf("built-in %s: %w", systemDefaultCert, err)
	}
	return tx.Create(o)
}

// ensureCloudVRFs gives every cloud the VRFs Avi creates with it: global and management.
func ensureCloudVRFs(tx *store.Tx) error {
	for _, c := range store.List[*avi.Cloud](tx) {
		for _, name := range []string{avi.VrfGlobal, avi.VrfManagement} {
			if _, ok := tx.ByNameInScope(avi.KindVrfContext, c.URL, name); ok {
				continue
			}
			v := &avi.VrfContext{}
			v.Name, v.CloudRef = name, c.URL
			v.Extra = map[string]any{"system_default": true}
			if err := tx.Create(v); err != nil {
				return fmt.Errorf("VRF %s of cloud %s: %w", name, c.Name, err)
			}
		}
	}
	return nil
}
