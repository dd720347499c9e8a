// Package syncbuf is a buffer that one goroutine writes (a process's output, a logger) while
// another reads it, as tests capture output to check.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that Write and String may be called on concurrently. The zero value
// is an empty buffer.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
