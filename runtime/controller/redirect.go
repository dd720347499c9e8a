package controller

import (
	"crypto/x509"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// redirectHandler sends plain HTTP to HTTPS on the controller's own names: the Host a client
// sent when it is one of them (so a browser keeps the name it used), else the canonical name.
// Never an arbitrary Host, which would make the controller redirect to anywhere.
func redirectHandler(names []string, canonical string, httpsPort int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, ok := ownName(names, requestHost(r.Host))
		if !ok {
			host = canonical
		}
		if httpsPort != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(httpsPort))
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
}

// requestHost is the name in a Host header, without port or IPv6 brackets.
func requestHost(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// ownName returns the name among names that host is: the same DNS name in any case, or the
// same IP address.
func ownName(names []string, host string) (string, bool) {
	ip, err := netip.ParseAddr(host)
	for _, n := range names {
		if err == nil {
			if a, err := netip.ParseAddr(n); err == nil && a.Unmap() == ip.Unmap() {
				return n, true
			}
		} else if host != "" && strings.EqualFold(n, host) {
			return n, true
		}
	}
	return "", false
}

// certNames are the names a certificate is valid for, and the canonical one among them: the
// configured IP when there is one, else the certificate's first name.
func certNames(leaf *x509.Certificate, configuredIP string) (names []string, canonical string) {
	names = append(names, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	switch {
	case net.ParseIP(configuredIP) != nil:
		canonical = configuredIP
	case len(names) > 0:
		canonical = names[0]
	default:
		canonical = "localhost"
	}
	return names, canonical
}
