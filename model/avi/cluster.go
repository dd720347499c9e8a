package avi

import (
	"fmt"
	"net/netip"
)

// Cluster is Avi's cluster object: the controllers that hold the configuration together, by
// name and management address, and the address the leader holds for all of them. There is
// one; it is changed with PUT /api/cluster only (membership goes through raft with it).
type Cluster struct {
	Meta
	TenantRef                string        `json:"tenant_ref,omitempty"`
	Nodes                    []ClusterNode `json:"nodes,omitempty"`
	VirtualIP                *IPAddr       `json:"virtual_ip,omitempty"`
	RejoinNodesAutomatically bool          `json:"rejoin_nodes_automatically,omitempty"`
}

// ClusterNode is one controller of the cluster.
type ClusterNode struct {
	Name string `json:"name,omitempty"`
	IP   IPAddr `json:"ip"`
}

// MaxClusterNodes is Avi's limit: a cluster has one or three controllers (two while one is
// replaced).
const MaxClusterNodes = 3

// Defaults: the cluster is named cluster-0-1, as Avi names it; a node without a name is named
// by its address.
func (c *Cluster) Defaults() {
	if c.Name == "" {
		c.Name = "cluster-0-1"
	}
	for i := range c.Nodes {
		if c.Nodes[i].Name == "" {
			c.Nodes[i].Name = c.Nodes[i].IP.Addr
		}
	}
}

// Validate: one to three nodes, each with an IP address (V4 or V6) and a name, both unique; a
// virtual IP, when set, is an address of its own.
func (c *Cluster) Validate() error {
	if err := validateName(&c.Meta); err != nil {
		return err
	}
	if len(c.Nodes) == 0 || len(c.Nodes) > MaxClusterNodes {
		return fieldErr("nodes", "%d nodes: a cluster has 1 to %d", len(c.Nodes), MaxClusterNodes)
	}
	seen := map[string]string{}
	for i, n := range c.Nodes {
		field := fmt.Sprintf("nodes[%d]", i)
		if err := firstErr(printable(field+".name", n.Name, MaxNameLength), oneOf(field+".ip.type", n.IP.Type, "V4", "V6")); err != nil {
			return err
		}
		if err := n.IP.validate(field + ".ip"); err != nil {
			return err
		}
		for _, key := range []string{"name " + n.Name, "address " + n.IP.Addr} {
			if other, dup := seen[key]; dup {
				return fieldErr(field, "%s is also %s's", key, other)
			}
			seen[key] = field
		}
	}
	if v := c.VirtualIP; v != nil {
		if err := firstErr(oneOf("virtual_ip.type", v.Type, "V4", "V6"), v.validate("virtual_ip")); err != nil {
			return err
		}
		if other, dup := seen["address "+v.Addr]; dup {
			return fieldErr("virtual_ip", "%s is %s's address", v.Addr, other)
		}
	}
	return nil
}

// Node returns the node with that address.
func (c *Cluster) Node(addr netip.Addr) (ClusterNode, bool) {
	for _, n := range c.Nodes {
		if a, err := netip.ParseAddr(n.IP.Addr); err == nil && a.Unmap() == addr.Unmap() {
			return n, true
		}
	}
	return ClusterNode{}, false
}

// Refs: none.
func (c *Cluster) Refs() []Ref { return tenantRefs(&c.TenantRef) }

// Tenant is the cluster's tenant reference: always admin.
func (c *Cluster) Tenant() *string { return &c.TenantRef }

// Secrets: none.
func (c *Cluster) Secrets() []*string { return nil }

// ClusterMember is what the controllers of a cluster know of each other beyond Avi's object:
// the raft address a node is reached at and its certificate's pin, which the others accept its
// connections by. A node becomes one when it joins. The API does not serve it.
type ClusterMember struct {
	Meta            // the name is the node's raft name
	Addr     string `json:"addr"`      // host:port of its SE port, which carries raft
	CertHash string `json:"cert_hash"` // sechannel.CertHash of its certificate
	Joined   string `json:"joined"`    // RFC 3339
}

// Defaults: none.
func (m *ClusterMember) Defaults() {}

// Validate: a name, an address and a pin.
func (m *ClusterMember) Validate() error {
	if err := validateName(&m.Meta); err != nil {
		return err
	}
	if _, err := netip.ParseAddrPort(m.Addr); err != nil {
		return fieldErr("addr", "%q: want ip:port", m.Addr)
	}
	if len(m.CertHash) != 64 {
		return fieldErr("cert_hash", "want a hex SHA-256")
	}
	return nil
}

// Refs: none.
func (m *ClusterMember) Refs() []Ref { return nil }

// Secrets: none (a certificate's pin is public).
func (m *ClusterMember) Secrets() []*string { return nil }
