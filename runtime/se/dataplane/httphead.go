package dataplane

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
)

// The L7 proxy reads message heads into its connections' read buffers and parses them there:
// header fields are slices of the buffer, so that a request costs no allocation. A head larger
// than the buffer is gathered into a slice of its own, up to maxHeadBytes.

const (
	// maxHeadBytes bounds a request or response head, as net/http's default does.
	maxHeadBytes = 1 << 20
	// bufferSize is the read and write buffer of every proxied connection: room for almost
	// every head, and the size above which body reads bypass the buffer.
	bufferSize = 16 << 10
)

var (
	errMalformed     = errors.New("malformed HTTP message")
	errHTTPVersion   = errors.New("unsupported HTTP version")
	errHeadTooLarge  = errors.New("HTTP head too large")
	errUnsupportedTE = errors.New("unsupported transfer encoding")
)

// headerKind names the header fields the proxy acts on; it passes every other field through.
type headerKind uint8

const (
	hOther headerKind = iota
	hHost
	hContentLength
	hTransferEncoding
	hConnection
	hKeepAlive
	hProxyConnection
	hTE
	hTrailer
	hUpgrade
	hProxyAuthenticate
	hProxyAuthorization
	hForwarded
	hXForwardedFor
	hXForwardedHost
	hXForwardedProto
)

var knownHeaders = []struct {
	name string // lower case
	kind headerKind
}{
	{"host", hHost},
	{"content-length", hContentLength},
	{"transfer-encoding", hTransferEncoding},
	{"connection", hConnection},
	{"keep-alive", hKeepAlive},
	{"proxy-connection", hProxyConnection},
	{"te", hTE},
	{"trailer", hTrailer},
	{"upgrade", hUpgrade},
	{"proxy-authenticate", hProxyAuthenticate},
	{"proxy-authorization", hProxyAuthorization},
	{"forwarded", hForwarded},
	{"x-forwarded-for", hXForwardedFor},
	{"x-forwarded-host", hXForwardedHost},
	{"x-forwarded-proto", hXForwardedProto},
}

func kindOf(name []byte) headerKind {
	for _, k := range knownHeaders {
		if equalFold(name, k.name) {
			return k.kind
		}
	}
	return hOther
}

// equalFold compares b with lower, which is in lower case, ignoring ASCII case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// header is one field of a parsed head.
type header struct {
	name, value []byte
	kind        headerKind
}

// requestHead is a parsed request head; its slices point into the bytes it was parsed from.
type requestHead struct {
	method, target []byte
	minor          int // HTTP/1.minor, 0 or 1
	headers        []header
}

// responseHead is a parsed response head; its slices point into the bytes it was parsed from.
type responseHead struct {
	minor   int
	status  int
	reason  []byte
	headers []header
}

// parseRequestHead parses a request head: the bytes up to and including the empty line that
// ends it. It reuses h.headers.
func parseRequestHead(head []byte, h *requestHead) error {
	line, rest := nextLine(head)
	method, rest1, ok1 := bytes.Cut(line, []byte{' '})
	target, version, ok2 := bytes.Cut(rest1, []byte{' '})
	if !ok1 || !ok2 || !isToken(method) || !validTarget(target) {
		return fmt.Errorf("%w: request line %.64q", errMalformed, line)
	}
	minor, err := parseVersion(version)
	if err != nil {
		return err
	}
	h.method, h.target, h.minor = method, target, minor
	h.headers, err = parseHeaders(rest, h.headers[:0])
	return err
}

// parseResponseHead parses a response head as parseRequestHead does a request's.
func parseResponseHead(head []byte, h *responseHead) error {
	line, rest := nextLine(head)
	version, rest1, _ := bytes.Cut(line, []byte{' '})
	code, reason, _ := bytes.Cut(rest1, []byte{' '})
	minor, err := parseVersion(version)
	if err != nil {
		return err
	}
	if len(code) != 3 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || code[0] == '0' {
		return fmt.Errorf("%w: status line %.64q", errMalformed, line)
	}
	if hasControl(reason) {
		return fmt.Errorf("%w: status line %.64q", errMalformed, line)
	}
	h.minor, h.reason = minor, reason
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	h.headers, err = parseHeaders(rest, h.headers[:0])
	return err
}

// parseVersion accepts HTTP/1.x, as net/http does: x above 1 is served as 1.1.
func parseVersion(v []byte) (minor int, err error) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return 0, fmt.Errorf("%w: version %.16q", errMalformed, v)
	}
	if v[5] != '1' {
		return 0, fmt.Errorf("%w: %s", errHTTPVersion, v)
	}
	return min(int(v[7]-'0'), 1), nil
}

// parseHeaders parses header lines up to the empty line. Obsolete line folding, whitespace
// before the colon and control characters are refused: they are how requests get smuggled.
func parseHeaders(b []byte, dst []header) ([]header, error) {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		if len(line) == 0 {
			if len(b) != 0 {
				return dst, fmt.Errorf("%w: bytes after the head", errMalformed)
			}
			return dst, nil
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || !isToken(name) {
			return dst, fmt.Errorf("%w: header line %.64q", errMalformed, line)
		}
		value = trimOWS(value)
		if hasControl(value) {
			return dst, fmt.Errorf("%w: header %s has a control character", errMalformed, name)
		}
		dst = append(dst, header{name: name, value: value, kind: kindOf(name)})
	}
	return dst, fmt.Errorf("%w: head not ended by an empty line", errMalformed)
}

// nextLine splits off the first line, without its line end (LF or CRLF).
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasControl reports whether a field value or reason phrase holds a control character other
// than a tab.
func hasControl(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// tokenChars are the characters of an RFC 9110 token (methods, header names).
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return true
}

// validTarget accepts a request target without whitespace or control characters.
func validTarget(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// parseContentLength reads a Content-Length value: decimal digits only, no sign, no overflow.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// headEnd returns the length of the head at the start of buf, up to and including the empty
// line that ends it, or -1 when buf does not hold all of it yet.
func headEnd(buf []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(buf) && buf[i] == '\n' {
			return i + 1
		}
		if i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' {
			return i + 2
		}
	}
}

// readHead reads a message head from br and consumes it. The result points into br's buffer
// when the head fits there: it stays valid until br next reads from its connection.
func readHead(br *bufio.Reader) ([]byte, error) {
	for {
		buf, _ := br.Peek(br.Buffered())
		if n := headEnd(buf); n > 0 {
			br.Discard(n)
			return buf[:n], nil
		}
		if len(buf) == br.Size() {
			return readLongHead(br)
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return nil, err
		}
	}
}

// readLongHead gathers a head larger than the read buffer, line by line.
func readLongHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	lineStart := 0
	for {
		part, err := br.ReadSlice('\n')
		head = append(head, part...)
		if len(head) > maxHeadBytes {
			return nil, errHeadTooLarge
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, err
		}
		if line := head[lineStart:]; len(line) == 1 || len(line) == 2 && line[0] == '\r' {
			return head, nil
		}
		lineStart = len(head)
	}
}
