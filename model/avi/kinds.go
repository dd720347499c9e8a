package avi

import (
	"errors"
	"net/url"
	"reflect"
)

// Kind is an object type of the API: the <kind> of /api/<kind>/<uuid>, the prefix of its
// objects' uuids and the store's bucket. Code names kinds only by these constants.
type Kind string

// The object kinds; each has its entry in Kinds.
const (
	KindSystemConfiguration Kind = "systemconfiguration"
	KindTenant              Kind = "tenant"
	KindRole                Kind = "role"
	KindUser                Kind = "user"
	KindCloudConnectorUser  Kind = "cloudconnectoruser"
	KindCloud               Kind = "cloud"
	KindServiceEngineGroup  Kind = "serviceenginegroup"
	KindApplicationProfile  Kind = "applicationprofile"
	KindHealthMonitor       Kind = "healthmonitor"
	KindPool                Kind = "pool"
	KindVirtualService      Kind = "virtualservice"
	KindVsVip               Kind = "vsvip"
	KindServiceEngine       Kind = "serviceengine"
	KindJoinToken           Kind = "jointoken"
	KindAuthToken           Kind = "authtoken"
	KindCluster             Kind = "cluster"
	KindClusterMember       Kind = "clustermember"

	KindVrfContext                    Kind = "vrfcontext"
	KindNetwork                       Kind = "network"
	KindSSLKeyAndCertificate          Kind = "sslkeyandcertificate"
	KindSSLProfile                    Kind = "sslprofile"
	KindNetworkProfile                Kind = "networkprofile"
	KindPoolGroup                     Kind = "poolgroup"
	KindApplicationPersistenceProfile Kind = "applicationpersistenceprofile"
	KindAnalyticsProfile              Kind = "analyticsprofile"
	KindIpamDnsProviderProfile        Kind = "ipamdnsproviderprofile"
	KindControllerProperties          Kind = "controllerproperties"
)

// KindInfo is what the API and the store know of a kind.
type KindInfo struct {
	Kind Kind
	// New makes an empty object; its type is the kind's (KindOf).
	New func() Object
	// Singleton kinds have exactly one object, created at first boot.
	Singleton bool
	// Internal kinds are created by the controller itself (service engines): the API may read
	// and delete them, not create or change them.
	Internal bool
	// Permission is the resource (Avi's PERMISSION_*) a role grants access to the kind's objects
	// by. Whether the kind is tenant-scoped is the resource's (Resource.Tenanted): the objects of
	// a tenant-scoped kind belong to a tenant (Tenanted); the others are controller-wide.
	Permission string
	// Shared kinds' objects in the admin tenant are seen and referred to from every tenant, as
	// Avi shares the admin tenant's profiles; they are changed in the admin tenant only.
	Shared bool
	// Private kinds are served by their own routes only (API tokens: /api/user-token): the
	// generic object routes answer 404 for them and exports leave them out.
	Private bool
}

// Tenanted reports whether the kind's objects belong to a tenant each.
func (k KindInfo) Tenanted() bool {
	r, _ := LookupResource(k.Permission)
	return r.Tenanted
}

// Kinds is every object type, in the order an export lists them (referenced before referring).
// A new kind is a constant above and one entry here.
var Kinds = []KindInfo{
	{Kind: KindSystemConfiguration, New: func() Object { return &SystemConfiguration{} }, Singleton: true, Permission: PermSystemConfiguration},
	{Kind: KindTenant, New: func() Object { return &Tenant{} }, Permission: PermTenant},
	{Kind: KindRole, New: func() Object { return &Role{} }, Permission: PermRole},
	{Kind: KindUser, New: func() Object { return &User{} }, Permission: PermUser},
	{Kind: KindCloudConnectorUser, New: func() Object { return &CloudConnectorUser{} }, Permission: PermUserCredential},
	{Kind: KindControllerProperties, New: func() Object { return &ControllerProperties{} }, Singleton: true, Permission: PermController},
	{Kind: KindIpamDnsProviderProfile, New: func() Object { return &IpamDnsProviderProfile{} }, Permission: PermIpamDnsProviderProfile},
	{Kind: KindCloud, New: func() Object { return &Cloud{} }, Permission: PermCloud},
	{Kind: KindVrfContext, New: func() Object { return &VrfContext{} }, Permission: PermVrfContext},
	{Kind: KindNetwork, New: func() Object { return &Network{} }, Permission: PermNetwork},
	{Kind: KindServiceEngineGroup, New: func() Object { return &ServiceEngineGroup{} }, Permission: PermServiceEngineGroup},
	{Kind: KindSSLKeyAndCertificate, New: func() Object { return &SSLKeyAndCertificate{} }, Permission: PermSSLKeyAndCertificate, Shared: true},
	{Kind: KindSSLProfile, New: func() Object { return &SSLProfile{} }, Permission: PermSSLProfile, Shared: true},
	{Kind: KindNetworkProfile, New: func() Object { return &NetworkProfile{} }, Permission: PermNetworkProfile, Shared: true},
	{Kind: KindApplicationPersistenceProfile, New: func() Object { return &ApplicationPersistenceProfile{} }, Permission: PermApplicationPersistenceProfile, Shared: true},
	{Kind: KindAnalyticsProfile, New: func() Object { return &AnalyticsProfile{} }, Permission: PermAnalyticsProfile, Shared: true},
	{Kind: KindApplicationProfile, New: func() Object { return &ApplicationProfile{} }, Permission: PermApplicationProfile, Shared: true},
	{Kind: KindHealthMonitor, New: func() Object { return &HealthMonitor{} }, Permission: PermHealthMonitor, Shared: true},
	{Kind: KindPool, New: func() Object { return &Pool{} }, Permission: PermPool},
	{Kind: KindPoolGroup, New: func() Object { return &PoolGroup{} }, Permission: PermPoolGroup},
	{Kind: KindVsVip, New: func() Object { return &VsVip{} }, Permission: PermVirtualService},
	{Kind: KindVirtualService, New: func() Object { return &VirtualService{} }, Permission: PermVirtualService},
	{Kind: KindServiceEngine, New: func() Object { return &ServiceEngine{} }, Internal: true, Permission: PermServiceEngine},
	{Kind: KindJoinToken, New: func() Object { return &JoinToken{} }, Internal: true, Permission: PermSEToken},
	// After the users and roles it refers to.
	{Kind: KindAuthToken, New: func() Object { return &AuthToken{} }, Internal: true, Private: true, Permission: PermissionExempt},
	// Changed by PUT /api/cluster only, which moves raft's membership with it.
	{Kind: KindCluster, New: func() Object { return &Cluster{} }, Singleton: true, Internal: true, Permission: PermController},
	{Kind: KindClusterMember, New: func() Object { return &ClusterMember{} }, Internal: true, Private: true, Permission: PermController},
}

// ErrUnknownKind is returned for an object type the API does not have.
var ErrUnknownKind = errors.New("unknown object type")

// kindsByType finds a kind from the Go type of its objects.
var kindsByType = func() map[reflect.Type]Kind {
	m := make(map[reflect.Type]Kind, len(Kinds))
	for _, k := range Kinds {
		m[reflect.TypeOf(k.New())] = k.Kind
	}
	return m
}()

// LookupKind returns the kind a client names (in a path or a reference).
func LookupKind(name string) (KindInfo, bool) {
	for _, k := range Kinds {
		if string(k.Kind) == name {
			return k, true
		}
	}
	return KindInfo{}, false
}

// Info returns the kind's entry in Kinds; ok is false for a kind not there.
func (k Kind) Info() (KindInfo, bool) { return LookupKind(string(k)) }

// KindOf returns the kind of an object; ok is false for a type that is no kind's.
func KindOf(o Object) (Kind, bool) {
	k, ok := kindsByType[reflect.TypeOf(o)]
	return k, ok
}

// KindFor returns the kind of the objects of type T (such as *Pool). T must be a kind's type:
// that is the program's own choice, never a client's, so another is a bug and panics.
func KindFor[T Object]() Kind {
	k, ok := kindsByType[reflect.TypeFor[T]()]
	if !ok {
		panic("avi: " + reflect.TypeFor[T]().String() + " is not an object kind")
	}
	return k
}

// URL is the API path of the object of this kind with that uuid: the stored form of a
// reference.
func (k Kind) URL(uuid string) string { return "/api/" + string(k) + "/" + uuid }

// NameRef refers to the object of this kind with that name, as the store resolves it on write.
func (k Kind) NameRef(name string) string {
	return "/api/" + string(k) + "?name=" + url.QueryEscape(name)
}
