package installer

import (
	"net"
	"strconv"
	"strings"
)

// controllerURL is where an operator points a browser.
func controllerURL(ip string, port int) string {
	host := net.JoinHostPort(ip, strconv.Itoa(port))
	if port == 443 {
		host = ip
		if strings.Contains(ip, ":") {
			host = "[" + ip + "]"
		}
	}
	return "https://" + host + "/"
}
