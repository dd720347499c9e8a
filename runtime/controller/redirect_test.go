package controller

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The HTTP redirect keeps a Host that is one of the controller's names and replaces any other
// with the configured IP: a client cannot make the controller redirect elsewhere.
func TestRedirectGoesToOwnNames(t *testing.T) {
	cert, err := loadOrCreateCert(t.TempDir(), []net.IP{net.ParseIP("192.0.2.10")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	names, canonical := certNames(cert.Leaf, "192.0.2.10")
	for _, c := range []struct {
		host string
		port int
		want string
	}{
		{"192.0.2.10", 8443, "https://192.0.2.10:8443/x?y=1"},
		{"127.0.0.1:80", 8443, "https://127.0.0.1:8443/x?y=1"},
		{"LocalHost:80", 443, "https://localhost/x?y=1"},
		{"[::1]:80", 443, "https://[::1]/x?y=1"},
		{"[::1]", 8443, "https://[::1]:8443/x?y=1"},
		{"evil.example", 443, "https://192.0.2.10/x?y=1"},
		{"evil.example:80", 8443, "https://192.0.2.10:8443/x?y=1"},
		{"192.0.2.99", 443, "https://192.0.2.10/x?y=1"},
		{"", 443, "https://192.0.2.10/x?y=1"},
	} {
		r := httptest.NewRequest("GET", "http://avi/x?y=1", nil)
		r.Host = c.host
		w := httptest.NewRecorder()
		redirectHandler(names, canonical, c.port).ServeHTTP(w, r)
		if got := w.Header().Get("Location"); w.Code != http.StatusMovedPermanently || got != c.want {
			t.Errorf("Host %q, HTTPS port %d: %d to %q; want 301 to %q", c.host, c.port, w.Code, got, c.want)
		}
	}
	if _, canonical := certNames(cert.Leaf, ""); canonical != "localhost" {
		t.Errorf("canonical name without a configured IP: %q; want the certificate's first name", canonical)
	}
}
