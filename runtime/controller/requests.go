package controller

import (
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/avi-init/avi-init/model/avi"
)

// How handlers read requests: bounded bodies, field errors placed in the document they come
// from, the client's address.

// maxBody bounds a request body; a whole configuration import fits.
const maxBody = 64 << 20

// readBody reads a body of at most maxBody bytes, answering the error itself.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body too large or unreadable")
		return nil, false
	}
	return data, true
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
