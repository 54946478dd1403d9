package hosts

import (
	"net"
	"strings"
)

// IsLoopback reports whether host (lower case, no brackets or port) can only be this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ValidDNSName reports whether host is lower-case labels of letters, digits and inner
// hyphens, at most 253 bytes.
func ValidDNSName(host string) bool {
	if len(host) > 253 {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if !ValidLabel(label) {
			return false
		}
	}
	return true
}

// ValidLabel reports whether l is one DNS label: lower-case letters, digits and inner
// hyphens, 1 to 63 of them.
func ValidLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// ValidPort reports whether p is a port number from 1 to 65535, in at most 5 digits.
func ValidPort(p string) bool {
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' || i >= 5 {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
}

// ValidHostPort accepts a DNS name or IPv4 address, or a bracketed IPv6 address, with an
// optional numeric port.
func ValidHostPort(hp string) bool {
	if hp == "" || len(hp) > 260 {
		return false
	}
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return false
		}
		host, port = hp[1:end], hp[end+1:]
		for _, c := range host {
			if !(c == ':' || c == '.' || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')) {
				return false
			}
		}
	} else if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i:]
		if !ValidDNSName(strings.ToLower(host)) {
			return false
		}
	} else if !ValidDNSName(strings.ToLower(host)) {
		return false
	}
	if port == "" {
		return host != ""
	}
	return port[0] == ':' && ValidPort(port[1:])
}
