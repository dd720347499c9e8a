package controller

import (
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/audit"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// The audit log records every API request that changes something (and those that tried),
// every export and token minted, with the diff of each object changed, plus logins and
// logouts. It is written here, in one place, after the handler: handlers only commit their
// writes through update, which keeps what they changed.

// update runs fn in a store transaction as p's request, keeping what it committed for the
// audit log. A user's new password, however it came (the API, an import), revokes the user's
// API tokens in the same transaction, as it ends their sessions.
func (s *Server) update(p *principal, fn func(tx *store.Tx) error) error {
	var changes []store.Change
	err := s.store.Update(func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		// A cloud written through the API or an import comes with its Default-Group.
		if err := ensureCloudDefaults(tx); err != nil {
			return err
		}
		for _, user := range newPasswords(tx.Changes()) {
			if err := revokeUserTokens(tx, user); err != nil {
				return err
			}
		}
		changes = tx.Changes()
		return nil
	})
	if err == nil {
		p.changes = append(p.changes, changes...)
	}
	return err
}

// newPasswords lists the uuids of the users that changes gave a new password.
func newPasswords(changes []store.Change) []string {
	var out []string
	for _, c := range changes {
		old, _ := c.Old.(*avi.User)
		cur, _ := c.New.(*avi.User)
		if old != nil && cur != nil && old.PasswordHash != cur.PasswordHash {
			out = append(out, c.UUID)
		}
	}
	return out
}

// statusWriter remembers the status an answer was sent with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// audited serves an authorized request and records it in the audit log when it is one to
// record: a method that changes, or a route with an action of its own (action).
func (s *Server) audited(w http.ResponseWriter, r *http.Request, p *principal, action string, serve func(http.ResponseWriter)) {
	if action == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		serve(w)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	serve(sw)
	base := audit.Entry{Time: s.now().UTC(), User: p.user.Username, Client: clientAddr(r), Tenant: p.tenantName(p.tenant),
		Method: r.Method, Path: r.URL.Path, Status: cmp.Or(sw.status, http.StatusOK)}
	if p.token != nil {
		base.TokenID = p.token.Name
	}
	if len(p.changes) == 0 {
		e := base
		e.Kind, e.UUID = r.PathValue("kind"), r.PathValue("uuid")
		e.Action = cmp.Or(action, methodAction(r.Method))
		s.writeAudit(e)
		return
	}
	for _, c := range p.changes {
		e := base
		e.Kind, e.UUID = string(c.Kind), c.UUID
		switch {
		case action != "":
			e.Action = action
		case c.Old == nil:
			e.Action = audit.ActionCreate
		case c.New == nil:
			e.Action = audit.ActionDelete
		default:
			e.Action = audit.ActionUpdate
		}
		if c.New != nil {
			e.Name = c.New.GetMeta().Name
		} else {
			e.Name = c.Old.GetMeta().Name
		}
		e.Diff = audit.Diff(c.Old, c.New)
		s.writeAudit(e)
	}
}

// methodAction is the action of a request that changed nothing, by its method.
func methodAction(method string) string {
	switch method {
	case http.MethodPost:
		return audit.ActionCreate
	case http.MethodDelete:
		return audit.ActionDelete
	}
	return audit.ActionUpdate
}

// auditEvent records a request outside the API's authorization: a login (with an API token:
// its id), a failed one, a logout.
func (s *Server) auditEvent(r *http.Request, user, tokenID, action string, status int) {
	s.writeAudit(audit.Entry{Time: s.now().UTC(), User: user, TokenID: tokenID, Client: clientAddr(r), Method: r.Method, Path: r.URL.Path, Action: action, Status: status})
}

func (s *Server) writeAudit(e audit.Entry) {
	if err := s.audit.Write(e); err != nil {
		s.log.Error("audit log entry lost", "err", err, "user", e.User, "action", e.Action, "path", e.Path)
	}
}

// auditLog is GET /api/auditlog?user=&kind=&action=&since=&until=&page=&page_size=: the
// entries that match, newest first.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request, _ *principal) {
	q := r.URL.Query()
	f := audit.Filter{User: q.Get("user"), Kind: q.Get("kind"), Action: q.Get("action"), Page: 1, PageSize: 100}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			var err error
			if *t.to, err = time.Parse(time.RFC3339, v); err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", t.name, v))
				return
			}
		}
	}
	for _, n := range []struct {
		name string
		to   *int
		max  int
	}{{"page", &f.Page, 1 << 30}, {"page_size", &f.PageSize, audit.MaxPageSize}} {
		if v := q.Get(n.name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 1 || i > n.max {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: %q: want 1 to %d", n.name, v, n.max))
				return
			}
			*n.to = i
		}
	}
	total, page, err := s.audit.Query(f)
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": total, "page": f.Page, "page_size": f.PageSize, "results": page})
}
