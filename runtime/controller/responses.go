package controller

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/avi-init/avi-init/model/avi"
	"github.com/avi-init/avi-init/runtime/controller/cluster"
	"github.com/avi-init/avi-init/runtime/controller/store"
)

// How every handler answers: JSON, never cached; errors as {"error": "..."}.

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeError answers with {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// storeError answers with the status an error from the store or the rules calls for.
func storeError(w http.ResponseWriter, err error) {
	var fe *avi.FieldError
	var denied *forbidden
	var unauth *unauthenticated
	var held *avi.ConflictError
	switch {
	case errors.As(err, &denied):
		writeError(w, http.StatusForbidden, denied.Error())
	case errors.As(err, &unauth):
		writeError(w, http.StatusUnauthorized, unauth.Error())
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Error())
	case errors.As(err, &held):
		writeError(w, http.StatusConflict, held.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrReferenced):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, cluster.ErrNotLeader), errors.Is(err, cluster.ErrNoQuorum), errors.Is(err, store.ErrStale):
		unavailable(w, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// tooMany answers an address the login throttle holds back, saying for how long.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int(wait.Seconds() + 0.999)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, "too many failed logins from this address: wait "+strconv.Itoa(secs)+" s")
}

// loginsBusy answers a login that finds every password-check slot taken.
func loginsBusy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusTooManyRequests, "too many logins in progress: try again in a second")
}
