package analytics

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/avi-init/avi-init/model/sechannel"
)

// LogFiles keeps client logs on disk in a few rotated files whose total stays within a size.
type LogFiles struct {
	mu      sync.Mutex
	dir     string
	perFile int64
	f       *os.File
	size    int64
}

// logFileCount is how many files the logs rotate through.
const logFileCount = 4

// NewLogFiles keeps client logs under dir within maxBytes in all.
func NewLogFiles(dir string, maxBytes int64) (*LogFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("client log directory: %w", err)
	}
	l := &LogFiles{dir: dir, perFile: max(maxBytes/logFileCount, 1<<20)}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *LogFiles) name(i int) string {
	return filepath.Join(l.dir, fmt.Sprintf("client-logs.%d.ndjson", i))
}

func (l *LogFiles) open() error {
	f, err := os.OpenFile(l.name(0), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open client log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// rotate shifts the files (0 becomes 1, ...), dropping the oldest.
func (l *LogFiles) rotate() error {
	l.f.Close()
	os.Remove(l.name(logFileCount - 1))
	for i := logFileCount - 2; i >= 0; i-- {
		os.Rename(l.name(i), l.name(i+1))
	}
	return l.open()
}

func (l *LogFiles) append(logs []sechannel.ClientLog) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, entry := range logs {
		line, err := json.Marshal(entry)
		if err != nil {
			continue
		}
		line = append(line, '\n')
		if l.size+int64(len(line)) > l.perFile {
			if err := l.rotate(); err != nil {
				return
			}
		}
		n, err := l.f.Write(line)
		l.size += int64(n)
		if err != nil {
			return
		}
	}
}

// Close closes the current file.
func (l *LogFiles) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
