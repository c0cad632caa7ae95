package cache

import (
	"context"
	"sync"
)

// flights collapses concurrent identical loads into one call, as
// golang.org/x/sync/singleflight does, with one difference that matters in
// front of a KDF: the shared call is cancelled once every caller waiting
// for it has gone. singleflight runs it to the end for nobody, so under
// load a login whose client had timed out kept its place in the provider's
// KDF queue (or its request to the directory) ahead of the clients still
// waiting. A call that has finished its work stores its result whoever
// waits.
type flights struct {
	mu    sync.Mutex
	calls map[key]*flight
}

// flight is one shared call.
type flight struct {
	done    chan struct{}
	e       *entry
	err     error
	waiters int // under flights.mu
	cancel  context.CancelFunc
}

// do joins the call for k, starting it with load when there is none, and
// returns its result, or ctx's error when ctx ends first.
func (fs *flights) do(ctx context.Context, k key, load func(context.Context) (*entry, error)) (*entry, error) {
	fs.mu.Lock()
	if fs.calls == nil {
		fs.calls = map[key]*flight{}
	}
	f, ok := fs.calls[k]
	if !ok {
		// The call keeps the values of the context that started it (request
		// id, client IP) but not its end: it lasts while anyone waits.
		callCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		fs.calls[k] = f
		go fs.run(callCtx, k, f, load)
	}
	f.waiters++
	fs.mu.Unlock()

	select {
	case <-f.done:
		return f.e, f.err
	case <-ctx.Done():
		fs.leave(k, f)
		return nil, ctx.Err()
	}
}

func (fs *flights) run(ctx context.Context, k key, f *flight, load func(context.Context) (*entry, error)) {
	defer f.cancel()
	e, err := load(ctx)
	fs.mu.Lock()
	if fs.calls[k] == f {
		delete(fs.calls, k)
	}
	fs.mu.Unlock()
	f.e, f.err = e, err
	close(f.done)
}

// leave records that a caller stopped waiting for f; the last one cancels
// it, and a caller arriving after that starts a call of its own.
func (fs *flights) leave(k key, f *flight) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f.waiters--
	if f.waiters > 0 {
		return
	}
	f.cancel()
	if fs.calls[k] == f {
		delete(fs.calls, k)
	}
}
