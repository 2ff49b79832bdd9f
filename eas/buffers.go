package eas

import (
	"bytes"
	"compress/gzip"
	"runtime"
)

// freeList keeps a few values for reuse. Unlike sync.Pool it keeps them
// across garbage collections: while a Sync streams windows of mail the
// collector runs several times per response, and a sync.Pool then hands
// out a new 800 KB gzip writer or a freshly grown buffer almost every time.
// Its size bounds what it holds.
type freeList[T any] struct {
	c chan T
}

func newFreeList[T any](n int) *freeList[T] {
	return &freeList[T]{c: make(chan T, n)}
}

// get returns a kept value, or ok false when there is none.
func (f *freeList[T]) get() (v T, ok bool) {
	select {
	case v = <-f.c:
		return v, true
	default:
		return v, false
	}
}

// put keeps v unless the list is full.
func (f *freeList[T]) put(v T) {
	select {
	case f.c <- v:
	default:
	}
}

// maxKeptBuffer is the largest response buffer kept for reuse: rarer,
// larger answers (an ItemOperations of a big attachment) are left to the
// collector rather than pinned.
const maxKeptBuffer = 8 << 20

// responseBuffers holds the buffers and gzip writers that answers are
// encoded and compressed with.
type responseBuffers struct {
	bufs  *freeList[[]byte]
	gzips *freeList[*gzip.Writer]
}

func newResponseBuffers() *responseBuffers {
	// Enough for the requests that can be encoding at the same moment; a
	// busier server allocates beyond that.
	n := max(2, runtime.GOMAXPROCS(0))
	return &responseBuffers{bufs: newFreeList[[]byte](2 * n), gzips: newFreeList[*gzip.Writer](n)}
}

// buffer returns an empty buffer to append to.
func (r *responseBuffers) buffer() []byte {
	b, _ := r.bufs.get()
	return b[:0]
}

// release takes back a buffer from buffer or gzip, however it grew; the
// caller no longer uses it.
func (r *responseBuffers) release(b []byte) {
	if cap(b) > 0 && cap(b) <= maxKeptBuffer {
		r.bufs.put(b[:0])
	}
}

// gzip compresses data into a buffer to be released.
func (r *responseBuffers) gzip(data []byte) []byte {
	out := bytes.NewBuffer(r.buffer())
	out.Grow(len(data) / 3)
	zw, ok := r.gzips.get()
	if ok {
		zw.Reset(out)
	} else {
		// Fastest level: responses are mostly text that compresses well
		// anyway, and the CPU is better spent elsewhere.
		zw, _ = gzip.NewWriterLevel(out, gzip.BestSpeed)
	}
	// Writes to a bytes.Buffer do not fail.
	zw.Write(data)
	zw.Close()
	r.gzips.put(zw)
	return out.Bytes()
}
