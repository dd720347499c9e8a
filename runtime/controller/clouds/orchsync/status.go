package orchsync

import "sync"

// StatusBoard holds what each cloud's sync last saw, by cloud uuid: the cloud's goroutines write
// it and the API reads it. Readers get a Clone, so that what they hold never changes under them.
// The zero value is an empty board.
type StatusBoard[S interface{ Clone() S }] struct {
	mu     sync.Mutex
	status map[string]*S
}

// Get returns a copy of a cloud's status.
func (b *StatusBoard[S]) Get(cloud string) (S, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.status[cloud]
	if !ok {
		var zero S
		return zero, false
	}
	return (*s).Clone(), true
}

// Update changes a cloud's status with fn, which starts from the zero status when the cloud has
// none yet.
func (b *StatusBoard[S]) Update(cloud string, fn func(*S)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.status == nil {
		b.status = map[string]*S{}
	}
	s, ok := b.status[cloud]
	if !ok {
		s = new(S)
		b.status[cloud] = s
	}
	fn(s)
}

// Delete forgets a cloud's status.
func (b *StatusBoard[S]) Delete(cloud string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.status, cloud)
}
