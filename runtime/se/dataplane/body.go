package dataplane

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sync"
)

// Bodies are streamed between a connection's read buffer and the other connection's write
// buffer. Bytes already buffered are passed on without a copy of their own; large stretches are
// read straight into a pooled copy buffer, bypassing the read buffer; and the write buffer is
// flushed before every read that may wait, so that nothing sits in it while the proxy blocks.

// copyBufferSize is the buffer of large body stretches: a 100 KB response takes two reads.
const copyBufferSize = 64 << 10

var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}

// untilClose is the length of a body that ends when its connection does.
const untilClose = -1

// copyBody copies n bytes (untilClose: up to the end of src) from src to dst. It does not flush
// what it wrote last.
func copyBody(dst *bufio.Writer, src *bufio.Reader, n int64) (int64, error) {
	var done int64
	var buf *[]byte
	defer func() {
		if buf != nil {
			copyBuffers.Put(buf)
		}
	}()
	for n == untilClose || done < n {
		rest := n - done
		if n == untilClose {
			rest = 1 << 62
		}
		if b := src.Buffered(); b > 0 {
			p, _ := src.Peek(int(min(int64(b), rest)))
			w, err := dst.Write(p)
			src.Discard(w)
			done += int64(w)
			if err != nil {
				return done, err
			}
			continue
		}
		if err := dst.Flush(); err != nil {
			return done, err
		}
		if rest < bufferSize {
			if _, err := src.Peek(1); err != nil {
				return done, bodyEnd(err, n)
			}
			continue
		}
		if buf == nil {
			buf = copyBuffers.Get().(*[]byte)
		}
		p := (*buf)[:min(int64(len(*buf)), rest)]
		r, err := src.Read(p) // the read buffer is empty and p larger: a direct read
		if r > 0 {
			if _, werr := dst.Write(p[:r]); werr != nil {
				return done, werr
			}
			done += int64(r)
		}
		if err != nil {
			return done, bodyEnd(err, n)
		}
	}
	return done, nil
}

// bodyEnd is the outcome of a body's source ending: the end of a body delimited by its
// connection's close, or a body cut short.
func bodyEnd(err error, n int64) error {
	if n == untilClose && err == io.EOF {
		return nil
	}
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4096

// copyChunked copies a chunked body from src to dst and returns the size of its data. With
// framing, dst gets the body as it is, chunk sizes, extensions and trailer fields included;
// without, only the data, for a client that does not know chunked encoding.
func copyChunked(dst *bufio.Writer, src *bufio.Reader, framing bool) (int64, error) {
	var data int64
	for {
		line, err := readChunkLine(dst, src)
		if err != nil {
			return data, err
		}
		size, err := parseChunkSize(line)
		if err != nil {
			return data, err
		}
		if framing {
			if _, err := dst.Write(line); err != nil {
				return data, err
			}
		}
		if size == 0 {
			return data, copyTrailer(dst, src, framing)
		}
		n, err := copyBody(dst, src, size)
		data += n
		if err != nil {
			return data, err
		}
		if line, err = readChunkLine(dst, src); err != nil {
			return data, err
		}
		if string(line) != "\r\n" {
			return data, fmt.Errorf("%w: chunk data longer than its size", errMalformed)
		}
		if framing {
			if _, err := dst.Write(line); err != nil {
				return data, err
			}
		}
	}
}

// copyTrailer copies the trailer section after the last chunk, up to its empty line.
func copyTrailer(dst *bufio.Writer, src *bufio.Reader, framing bool) error {
	for total := 0; ; {
		line, err := readChunkLine(dst, src)
		if err != nil {
			return err
		}
		if total += len(line); total > maxHeadBytes {
			return fmt.Errorf("%w: trailer section", errHeadTooLarge)
		}
		if _, err := lineContent(line); err != nil {
			return err
		}
		if framing {
			if _, err := dst.Write(line); err != nil {
				return err
			}
		}
		if len(line) == 2 {
			return nil
		}
	}
}

// readChunkLine reads one line of chunked framing, line end included; it flushes dst first
// when the line has yet to arrive. The line is valid until src's next read.
func readChunkLine(dst *bufio.Writer, src *bufio.Reader) ([]byte, error) {
	if buf, _ := src.Peek(src.Buffered()); bytes.IndexByte(buf, '\n') < 0 {
		if err := dst.Flush(); err != nil {
			return nil, err
		}
	}
	line, err := src.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull || len(line) > maxChunkLine:
		return nil, fmt.Errorf("%w: chunk line too long", errMalformed)
	case err == io.EOF:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	return line, nil
}

// lineContent is a line of chunked framing without its CRLF. Framing that a strict parser
// and a lenient one read differently (a bare CR or LF, a control character) is refused: a
// member reading it otherwise than the proxy would find a request smuggled inside.
func lineContent(line []byte) ([]byte, error) {
	if !bytes.HasSuffix(line, []byte("\r\n")) {
		return nil, fmt.Errorf("%w: chunk line without CRLF", errMalformed)
	}
	line = line[:len(line)-2]
	for _, c := range line {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, fmt.Errorf("%w: control character in a chunk line", errMalformed)
		}
	}
	return line, nil
}

// parseChunkSize reads the hexadecimal size at the start of a chunk line.
func parseChunkSize(line []byte) (int64, error) {
	line, err := lineContent(line)
	if err != nil {
		return 0, err
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trimOWS(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, fmt.Errorf("%w: chunk size %q", errMalformed, line)
	}
	var n int64
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		n = n<<4 | int64(d)
	}
	return n, nil
}

// checkChunked checks the framing of the start of a chunked body, as far as buf holds it, so that
// a body refused is refused before anything of it goes out.
func checkChunked(buf []byte) error {
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return nil
		}
		size, err := parseChunkSize(buf[:i+1])
		if err != nil {
			return err
		}
		buf = buf[i+1:]
		if size == 0 {
			return checkTrailer(buf)
		}
		if int64(len(buf)) < size+2 {
			if int64(len(buf)) > size && buf[size] != '\r' {
				return fmt.Errorf("%w: chunk data longer than its size", errMalformed)
			}
			return nil
		}
		if buf[size] != '\r' || buf[size+1] != '\n' {
			return fmt.Errorf("%w: chunk data longer than its size", errMalformed)
		}
		buf = buf[size+2:]
	}
}

// checkTrailer checks the lines of a trailer section, as far as buf holds them.
func checkTrailer(buf []byte) error {
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return nil
		}
		if _, err := lineContent(buf[:i+1]); err != nil || i == 1 {
			return err
		}
		buf = buf[i+1:]
	}
}
