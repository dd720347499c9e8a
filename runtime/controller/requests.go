package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/avi-init/avi-init/model/avi"
)

// How handlers read requests: bounded bodies, field errors placed in the document they come
// from, the client's address.

// The limits of request bodies (docs/api.md, "Limits"). The controller reads no byte past them:
// a larger body is answered 413 and its connection closed.
const (
	maxObjectBody = 4 << 20  // an object write, the setup
	maxImportBody = 64 << 20 // a configuration import (and export's request, which shares its reader)
	maxLoginBody  = 64 << 10 // a login, a password change, an API token request
)

// readBody reads a body of at most limit bytes, answering the error itself.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		bodyError(w, err)
		return nil, false
	}
	return data, true
}

// decodeBody decodes a JSON body of at most limit bytes into v, answering the error itself. An
// empty body leaves v as it is.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit)).Decode(v); err != nil && !errors.Is(err, io.EOF) {
		bodyError(w, err)
		return false
	}
	return true
}

// bodyError answers a body that could not be read or decoded: 413 naming the limit for one
// over it, else 400 naming the field at fault.
func bodyError(w http.ResponseWriter, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %s, the limit of this request", sizeText(tooLarge.Limit)))
		return
	}
	storeError(w, avi.JSONFieldError(err))
}

// sizeText writes a body limit as docs/api.md does: 4 MiB, 64 KiB.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// prefixField names a field error by its place in a larger document (admin.password).
func prefixField(prefix string, err error) error {
	var fe *avi.FieldError
	if errors.As(err, &fe) {
		return &avi.FieldError{Field: prefix + "." + fe.Field, Reason: fe.Reason}
	}
	return err
}

// clientAddr is the address a request comes from, without its port.
func clientAddr(r *http.Request) string { return hostOf(r.RemoteAddr) }

// hostOf is a remote address without its port: the key of the login throttle and of the
// connection cap alike.
func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
