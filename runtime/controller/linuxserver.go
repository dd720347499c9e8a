package controller

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/clouds/linuxcloud"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// KnownHostsFile records, in the data directory, the SSH host key each Linux server cloud host
// presented first (OpenSSH known_hosts format, 0600).
const KnownHostsFile = "linuxserver_known_hosts"

// deployTokenTTL bounds the join token of one SE deployment; the manager revokes it sooner, once
// the SE has joined or the deployment failed.
const deployTokenTTL = time.Hour

// selfExe is the running executable itself, whatever became of the file it was started from:
// a binary replaced at that path while the controller runs (an upgrade, a rebuild) would
// otherwise be copied to hosts under the checksum of the one read first, and every deployment
// would fail as corrupt. The kernel refuses writes to a running executable, so it cannot change.
const selfExe = "/proc/self/exe"

// linuxCloudController is what the Linux server cloud manager asks of the controller.
type linuxCloudController struct{ s *Server }

// JoinToken issues a token for one deployment.
func (c linuxCloudController) JoinToken(desc string) (string, func(), error) {
	hash, err := c.s.certHash()
	if err != nil {
		return "", nil, err
	}
	tok, jt, err := c.s.issueToken(desc, deployTokenTTL, 1, hash)
	if err != nil {
		return "", nil, err
	}
	revoke := func() {
		if err := c.s.store.Delete(avi.KindJoinToken, jt.UUID); err != nil && !errors.Is(err, store.ErrNotFound) {
			c.s.log.Warn("deployment join token not revoked", "id", jt.Name, "err", err)
		}
	}
	return tok.String(), revoke, nil
}

// sameIP reports whether an SE's management address is ip.
func sameIP(se *avi.ServiceEngine, ip net.IP) bool {
	return se.MgmtIPAddress != nil && net.ParseIP(se.MgmtIPAddress.Addr).Equal(ip)
}

// SE finds the SE whose management address is ip and says whether it is connected.
func (c linuxCloudController) SE(ip string) (string, bool) {
	want := net.ParseIP(ip)
	var uuid string
	c.s.store.View(func(v store.View) {
		for _, se := range store.List[*avi.ServiceEngine](v) {
			if sameIP(se, want) {
				uuid = se.UUID
			}
		}
	})
	if uuid == "" {
		return "", false
	}
	return avi.KindServiceEngine.URL(uuid), c.s.se.connected(uuid)
}

// RemoveSEs deletes the records of the SEs whose management address is ip.
func (c linuxCloudController) RemoveSEs(ip string) error {
	want := net.ParseIP(ip)
	return c.s.store.Update(func(tx *store.Tx) error {
		for _, se := range store.List[*avi.ServiceEngine](tx) {
			if sameIP(se, want) {
				if err := tx.Delete(avi.KindServiceEngine, se.UUID); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// linuxHostInstall is GET /api/linux_host_install?username=<user>, without authentication as
// Avi's: a script that prepares a host for the Linux server cloud whose SSH user (a
// cloudconnectoruser) has that name. It carries only the public key.
func (s *Server) linuxHostInstall(w http.ResponseWriter, r *http.Request, _ *principal) {
	user := r.URL.Query().Get("username")
	if !avi.ValidLinuxUser(user) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("username: %q is not %s", user, avi.LinuxUserRule))
		return
	}
	ccu, err := store.GetByName[*avi.CloudConnectorUser](s.store, user)
	if err != nil {
		writeError(w, http.StatusNotFound, "username: no SSH user (cloudconnectoruser) named "+user)
		return
	}
	script, err := linuxcloud.HostInstallScript(user, ccu.PublicKey)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/x-shellscript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(script))
}
