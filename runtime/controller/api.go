package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/model/avi/schema"
	"github.com/avi-init/avi-init/model/sechannel"
	"github.com/avi-init/avi-init/runtime/controller/audit"
	"github.com/avi-init/avi-init/runtime/controller/clouds/orchsync"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// Handler is the controller's HTTPS handler: UI, login, setup, REST API and metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/initial-data", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.initialData())
	})
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("POST /api/setup", s.setup)
	mux.HandleFunc("POST /api/setup/keypair", s.setupKeyPair)

	mux.HandleFunc("POST /api/cluster/join", s.clusterJoin)
	mux.HandleFunc("POST /api/cluster/voter", s.clusterVoter)
	mux.HandleFunc("GET /api/cluster/ping", s.clusterPing)
	mux.HandleFunc("POST "+sechannel.JoinPath, s.seJoin)
	mux.HandleFunc("GET "+sechannel.SnapshotPath, s.seSnapshots)
	mux.HandleFunc("POST "+sechannel.HeartbeatPath, s.seHeartbeat)
	for _, rt := range s.apiRoutes() {
		mux.Handle(rt.pattern, s.authorize(rt.resource, rt.action, rt.handler))
	}
	// Every error is JSON, as Avi's: what no route takes is answered here, 405 naming the
	// methods its path takes, or 404.
	for _, catchAll := range []string{"/api/", "/se/", "/login", "/logout"} {
		mux.Handle(catchAll, noRoute(mux, catchAll))
	}
	mux.Handle("/", uiHandler())
	return securityHeaders(apiVersions(s.answeredBy(s.leaderOnly(trailingSlash(mux)))))
}

// trailingSlash serves /api/<path>/ as /api/<path>: Avi's clients write both (the Python SDK
// asks for /api/pool/?name=web).
func trailingSlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > len("/api/") && strings.HasPrefix(p, "/api/") && strings.HasSuffix(p, "/") {
			r = r.Clone(r.Context())
			r.URL.Path = strings.TrimRight(p, "/")
			r.URL.RawPath = ""
		}
		next.ServeHTTP(w, r)
	})
}

// noRoute answers a request no route of mux takes (mux sends it to catchAll): 405 with the
// methods the path takes, when there are some, else 404; in JSON either way.
func noRoute(mux *http.ServeMux, catchAll string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			other := r.Clone(r.Context())
			other.Method = m
			if _, pattern := mux.Handler(other); pattern != catchAll && pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			writeError(w, http.StatusNotFound, "no such API path: "+r.URL.Path+" (docs/api.md lists them)")
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+": this path takes "+strings.Join(allow, ", "))
	})
}

// answeredBy names, on every answer, the node of the cluster that made it
// (X-Avi-Cluster-Node): runtime state and analytics come from the leader, which the SEs report to.
func (s *Server) answeredBy(h http.Handler) http.Handler {
	id := s.id
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if w.Header().Get(clusterNodeHeader) == "" {
			w.Header().Set(clusterNodeHeader, id)
		}
		h.ServeHTTP(w, r)
	})
}

// securityHeaders are sent with every answer: the UI loads nothing from elsewhere.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.setupComplete() {
		writeError(w, http.StatusForbidden, "the controller is not set up yet: complete the setup wizard first")
		return
	}
	addr := clientAddr(r)
	var cred struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Token    string `json:"token"` // an API token instead of the password, as Avi's SDK logs in
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody)).Decode(&cred); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				bodyError(w, err)
				return
			}
			writeError(w, http.StatusBadRequest, "want {\"username\": ..., \"password\": ...}")
			return
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
		if err := r.ParseForm(); err != nil {
			bodyError(w, err)
			return
		}
		cred.Username, cred.Password, cred.Token = r.PostFormValue("username"), r.PostFormValue("password"), r.PostFormValue("token")
	}
	var u *avi.User
	var tok *avi.AuthToken
	var status int
	if cred.Password == "" && cred.Token != "" {
		u, tok, status = s.tokenLogin(w, addr, cred.Username, cred.Token)
	} else {
		u, status = s.checkLogin(w, addr, cred.Username, cred.Password)
	}
	if status != http.StatusOK {
		if status == http.StatusUnauthorized {
			s.log.Warn("failed login", "username", cred.Username, "from", addr)
		}
		s.auditEvent(r, cred.Username, "", audit.ActionLoginFailed, status)
		return
	}
	tokUUID, tokID := "", ""
	if tok != nil {
		tokUUID, tokID = tok.UUID, tok.Name
	}
	s.auditEvent(r, u.Username, tokID, audit.ActionLogin, http.StatusOK)
	id, csrf := s.sessions.start(u.UUID, tokUUID)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	// The UI reads the CSRF token from this cookie and sends it back in X-CSRFToken.
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: csrf, Path: "/", Secure: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]any{"user": redacted(u)})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if ss, ok := s.sessions.get(c.Value); ok {
			if !ss.csrfMatches(r) {
				writeError(w, http.StatusForbidden, "CSRF token missing or wrong")
				return
			}
			name := ss.user
			if u, err := store.Get[*avi.User](s.store, ss.user); err == nil {
				name = u.Username
			}
			s.auditEvent(r, name, "", audit.ActionLogout, http.StatusOK)
		}
		s.sessions.end(c.Value)
	}
	for _, name := range []string{sessionCookie, csrfCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, Secure: true, SameSite: http.SameSiteStrictMode})
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
}

// kindOf returns the kind named in the path, or answers 404.
func kindOf(w http.ResponseWriter, r *http.Request) (avi.KindInfo, bool) {
	k, ok := avi.LookupKind(r.PathValue("kind"))
	if !ok || k.Private {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no object type %q", r.PathValue("kind")))
		return avi.KindInfo{}, false
	}
	return k, true
}

func redacted(o avi.Object) avi.Object {
	avi.Redact(o)
	return o
}

// present is an object as p sees it: redacted, in its tenant (objects stored before tenants
// existed are admin's), and for an SE with its runtime state.
func (s *Server) present(p *principal, o avi.Object) avi.Object {
	if se, ok := o.(*avi.ServiceEngine); ok {
		s.se.overlay(se)
	}
	if t, ok := o.(avi.Tenanted); ok {
		*t.Tenant() = p.tenantOf(o)
	}
	return redacted(o)
}

// includeName reports whether a request asks for references with the name of what they refer
// to (Avi's include_name): /api/pool/<uuid>#web.
func includeName(r *http.Request) bool {
	v, ok := r.URL.Query()["include_name"]
	return ok && (len(v) == 0 || v[0] != "false")
}

// withNames appends to each reference of o the name of the object it refers to.
func (s *Server) withNames(o avi.Object) {
	s.store.View(func(v store.View) {
		for _, ref := range o.Refs() {
			if *ref.Value == "" {
				continue
			}
			if target, err := v.Get(ref.Kind, avi.UUIDOf(*ref.Value)); err == nil {
				*ref.Value += "#" + target.GetMeta().Name
			}
		}
	})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, p *principal) {
	k, ok := kindOf(w, r)
	if !ok {
		return
	}
	if r.URL.Query().Has("unimplemented_fields") {
		s.unimplementedFields(w, k)
		return
	}
	if k.Singleton {
		// As Avi: the collection of a singleton kind is its one object.
		r.SetPathValue("uuid", s.singleton(k))
		s.get(w, r, p)
		return
	}
	lq, err := parseListQuery(r.URL.Query())
	if err != nil {
		storeError(w, err)
		return
	}
	var referred map[string]bool
	if by := lq.referredBy; by.uuid != "" {
		referred = map[string]bool{}
		if by, err := s.lookup(p, by.kind, by.uuid); err == nil {
			for _, ref := range by.Refs() {
				referred[*ref.Value] = true
			}
		}
	}
	results := []map[string]any{}
	names := includeName(r)
	for _, o := range s.store.List(k.Kind) {
		if lq.keep(o, referred) && p.visible(k, o) {
			o = s.present(p, o)
			if names {
				s.withNames(o)
			}
			results = append(results, avi.Document(o))
		}
	}
	writeJSON(w, http.StatusOK, lq.answer(r, results))
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, p *principal) {
	k, ok := kindOf(w, r)
	if !ok {
		return
	}
	o, err := s.lookup(p, k, r.PathValue("uuid"))
	if err != nil {
		storeError(w, err)
		return
	}
	o = s.present(p, o)
	if includeName(r) {
		s.withNames(o)
	}
	writeJSON(w, http.StatusOK, avi.Document(o))
}

// decodeObject reads one object as a client sends it (avi.Decode); a user's password hash is
// never written by a client.
func decodeObject(k avi.KindInfo, data []byte) (avi.Object, error) {
	o, err := avi.Decode(k, data)
	if err != nil {
		return nil, err
	}
	if u, ok := o.(*avi.User); ok && u.PasswordHash != "" {
		return nil, &avi.FieldError{Field: "password_hash", Reason: "is read-only: send password"}
	}
	return o, nil
}

func writable(w http.ResponseWriter, k avi.KindInfo) bool {
	if k.Internal {
		writeError(w, http.StatusMethodNotAllowed, string(k.Kind)+" objects are managed by the controller: read or delete them")
		return false
	}
	return true
}

// readObject reads the object a create or replace sends, answering the error itself.
func readObject(w http.ResponseWriter, r *http.Request) (avi.KindInfo, avi.Object, bool) {
	k, ok := kindOf(w, r)
	if !ok || !writable(w, k) {
		return k, nil, false
	}
	data, ok := readBody(w, r, maxObjectBody)
	if !ok {
		return k, nil, false
	}
	o, err := decodeObject(k, data)
	if err != nil {
		storeError(w, err)
		return k, nil, false
	}
	return k, o, true
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, p *principal) {
	k, o, ok := readObject(w, r)
	if !ok {
		return
	}
	if err := s.write(p, k, "", o); err != nil {
		storeError(w, err)
		return
	}
	s.noteUnacted(k, o)
	writeJSON(w, http.StatusCreated, avi.Document(redacted(o)))
}

// singleton is the uuid of a singleton kind's one object ("" before the first boot made it).
func (s *Server) singleton(k avi.KindInfo) string {
	if objs := s.store.List(k.Kind); len(objs) > 0 {
		return objs[0].GetMeta().UUID
	}
	return ""
}

// onSingleton serves PUT and PATCH /api/<kind> as Avi does for a singleton kind
// (systemconfiguration): they change its one object. Other kinds' collections take neither.
func (s *Server) onSingleton(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		k, ok := kindOf(w, r)
		if !ok {
			return
		}
		if !k.Singleton {
			w.Header().Set("Allow", "GET, POST")
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: give the object's uuid (/api/%s/<uuid>)", r.Method, r.URL.Path, k.Kind))
			return
		}
		r.SetPathValue("uuid", s.singleton(k))
		h(w, r, p)
	}
}

func (s *Server) put(w http.ResponseWriter, r *http.Request, p *principal) {
	k, o, ok := readObject(w, r)
	if !ok {
		return
	}
	s.replace(w, k, r.PathValue("uuid"), o, p)
}

// builtIn reports whether an object is one every controller has and relies on.
func (s *Server) builtIn(kind avi.Kind, uuid string) (string, bool) {
	o, err := s.store.Get(kind, uuid)
	if err != nil {
		return "", false
	}
	n := o.GetMeta().Name
	switch {
	case kind == avi.KindApplicationProfile && (n == avi.SystemHTTP || n == avi.SystemL4):
		return n, true
	case kind == avi.KindCloud && n == avi.DefaultCloudName, kind == avi.KindServiceEngineGroup && n == avi.DefaultSEGroup:
		return n, true
	case kind == avi.KindRole && avi.IsBuiltInRole(n), kind == avi.KindTenant && n == avi.AdminTenant:
		return n, true
	}
	return "", false
}

func (s *Server) replace(w http.ResponseWriter, k avi.KindInfo, uuid string, o avi.Object, p *principal) {
	if n, ok := s.builtIn(k.Kind, uuid); ok {
		switch {
		case k.Kind == avi.KindApplicationProfile, k.Kind == avi.KindRole, k.Kind == avi.KindTenant:
			writeError(w, http.StatusConflict, n+" is built in and cannot be changed")
			return
		case o.GetMeta().Name != n:
			writeError(w, http.StatusConflict, "name: "+n+" is built in and cannot be renamed")
			return
		}
	}
	if sc, ok := o.(*avi.SystemConfiguration); ok {
		// The wizard's completion is not undone through the API.
		sc.WelcomeWorkflowComplete = true
	}
	u, isUser := o.(*avi.User)
	newPassword := isUser && u.Password != ""
	if err := s.write(p, k, uuid, o); err != nil {
		storeError(w, err)
		return
	}
	if newPassword {
		// A changed password logs the user out elsewhere and forgets cached credentials.
		s.basic.clear()
		s.sessions.endUser(uuid)
	}
	s.noteUnacted(k, o)
	writeJSON(w, http.StatusOK, avi.Document(redacted(o)))
}

// unimplementedFields answers GET /api/<kind>?unimplemented_fields: the fields of Avi's schema
// for the kind that avi-init stores and returns but does not act on yet.
func (s *Server) unimplementedFields(w http.ResponseWriter, k avi.KindInfo) {
	sch := schema.Avi()
	def := sch.Kinds[string(k.Kind)]
	fields := sch.Unimplemented(string(k.Kind), reflect.TypeOf(k.New()))
	if fields == nil {
		fields = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": k.Kind, "schema": def, "schema_version": sch.Versions[def].Version,
		"unimplemented_fields": fields})
}

// noteUnacted logs, once per kind and field, a field avi-init does not act on that a write set
// to another value than Avi's default: the operator learns it has no effect yet.
func (s *Server) noteUnacted(k avi.KindInfo, o avi.Object) {
	for _, f := range schema.Avi().NonDefault(string(k.Kind), o.GetMeta().Extra) {
		if _, seen := s.unacted.LoadOrStore(string(k.Kind)+" "+f, true); !seen {
			s.log.Warn("field stored but not acted on yet (GET /api/"+string(k.Kind)+"?unimplemented_fields lists them)", "kind", k.Kind, "field", f)
		}
	}
}

// patch merges the body into the object (RFC 7386: null removes a field) and replaces it.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, p *principal) {
	k, ok := kindOf(w, r)
	if !ok || !writable(w, k) {
		return
	}
	data, ok := readBody(w, r, maxObjectBody)
	if !ok {
		return
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		storeError(w, avi.JSONFieldError(err))
		return
	}
	cur, err := s.lookup(p, k, r.PathValue("uuid"))
	if err != nil {
		storeError(w, err)
		return
	}
	avi.Redact(cur) // secrets are kept by Prepare when the patch does not send them
	doc := avi.Document(cur)
	if aviPatch(body) {
		if err := applyAviPatch(doc, body); err != nil {
			storeError(w, err)
			return
		}
	} else {
		doc = mergePatch(doc, body)
	}
	merged, _ := json.Marshal(doc)
	o, err := decodeObject(k, merged)
	if err != nil {
		storeError(w, err)
		return
	}
	s.replace(w, k, r.PathValue("uuid"), o, p)
}

func mergePatch(doc, patch map[string]any) map[string]any {
	for key, v := range patch {
		if v == nil {
			delete(doc, key)
			continue
		}
		if pm, ok := v.(map[string]any); ok {
			if dm, ok := doc[key].(map[string]any); ok {
				doc[key] = mergePatch(dm, pm)
				continue
			}
			doc[key] = mergePatch(map[string]any{}, pm)
			continue
		}
		doc[key] = v
	}
	return doc
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request, p *principal) {
	k, ok := kindOf(w, r)
	if !ok {
		return
	}
	uuid := r.PathValue("uuid")
	if k.Singleton {
		writeError(w, http.StatusMethodNotAllowed, "the "+string(k.Kind)+" cannot be deleted")
		return
	}
	if k.Kind == avi.KindUser && uuid == p.user.UUID {
		writeError(w, http.StatusConflict, "you cannot delete your own account")
		return
	}
	if n, ok := s.builtIn(k.Kind, uuid); ok {
		writeError(w, http.StatusConflict, n+" is built in and cannot be deleted")
		return
	}
	err := s.update(p, func(tx *store.Tx) error {
		old, err := tx.Get(k.Kind, uuid)
		if err != nil {
			return err
		}
		if err := s.changeable(tx, p, k, old); err != nil {
			return err
		}
		switch k.Kind {
		case avi.KindCloud:
			// What the cloud's integrations made goes with it, in the same transaction.
			if err := orchsync.DeleteOwned(tx, s.cloudOwners(uuid)...); err != nil {
				return err
			}
			if err := deleteCloudDefaults(tx, avi.KindCloud.URL(uuid)); err != nil {
				return err
			}
		case avi.KindUser:
			if err := revokeUserTokens(tx, uuid); err != nil {
				return err
			}
		}
		return tx.Delete(k.Kind, uuid)
	})
	if err != nil {
		storeError(w, err)
		return
	}
	if k.Kind == avi.KindUser {
		s.sessions.endUser(uuid)
		s.basic.clear()
	}
	w.WriteHeader(http.StatusNoContent)
}

// whoami returns the logged-in user.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request, p *principal) {
	writeJSON(w, http.StatusOK, redacted(p.user))
}

// changePassword is PUT /api/useraccount {"old_password": ..., "password": ...}.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p *principal) {
	user := p.user.UUID
	var req struct {
		OldPassword string `json:"old_password"`
		Password    string `json:"password"`
	}
	if !decodeBody(w, r, maxLoginBody, &req) {
		return
	}
	u, err := store.Get[*avi.User](s.store, user)
	if err != nil {
		storeError(w, err)
		return
	}
	addr := clientAddr(r)
	if wait := s.throttle.attempt(addr); wait > 0 {
		tooMany(w, wait)
		return
	}
	if !u.CheckPassword(req.OldPassword) {
		writeError(w, http.StatusBadRequest, "old_password: wrong password")
		return
	}
	s.throttle.release(addr)
	u.Password = req.Password
	if req.Password == "" {
		writeError(w, http.StatusBadRequest, "password: is required")
		return
	}
	if err := s.update(p, func(tx *store.Tx) error { return tx.Put(user, u) }); err != nil {
		storeError(w, err)
		return
	}
	s.basic.clear()
	keep := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		keep = c.Value
	}
	s.sessions.endUserExcept(user, keep)
	writeJSON(w, http.StatusOK, map[string]string{"status": "password changed"})
}
