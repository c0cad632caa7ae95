package regulate

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// DefaultMaxLogs is the default of MemoryConfig.MaxLogs.
const DefaultMaxLogs = 100_000

// MemoryConfig configures NewMemory.
type MemoryConfig struct {
	// MaxLogs bounds how many logs are kept (two per login and network
	// being tried: the pair's and the login's). When full, the least
	// recently used log is dropped, which forgets its failures: an
	// attacker would have to fail MaxLogs distinct logins within a window
	// to flush one, each costing a password verification. Default 100 000,
	// which with the default limits is at most about 200 MB in the worst
	// case (every log at its entry bound) and a few MB in practice.
	MaxLogs int
}

// Memory is Counters in this process's memory: the default, for a single
// API server (or as the fallback of a shared store). Memory is bounded:
// logs expire with their window, expired logs are swept, and at most
// MaxLogs are kept.
type Memory struct {
	mu        sync.Mutex
	logs      *simplelru.LRU[string, *memLog]
	evictions uint64
	lastSweep int64 // ms
}

type memLog struct {
	entries []memEntry // ascending by time
	expires int64      // ms: when the newest entry leaves the window
}

type memEntry struct {
	at int64 // ms
	id uint64
}

var _ Counters = (*Memory)(nil)

// NewMemory returns empty in-memory counters.
func NewMemory(cfg MemoryConfig) *Memory {
	if cfg.MaxLogs <= 0 {
		cfg.MaxLogs = DefaultMaxLogs
	}
	m := &Memory{}
	logs, err := simplelru.NewLRU[string, *memLog](cfg.MaxLogs, nil)
	if err != nil {
		panic(err) // only for a size <= 0, excluded above
	}
	m.logs = logs
	return m
}

// Len returns the number of logs held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.logs.Len()
}

// Evictions returns how many logs were dropped to stay within MaxLogs
// (not counting expired ones).
func (m *Memory) Evictions() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.evictions
}

// Add implements Counters.
func (m *Memory) Add(_ context.Context, now time.Time, id uint64, keys ...Key) ([]Log, error) {
	ms := now.UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(ms)
	out := make([]Log, len(keys))
	for i, k := range keys {
		l, ok := m.logs.Get(k.Name)
		if !ok {
			l = &memLog{}
			if m.logs.Add(k.Name, l) {
				m.evictions++
			}
		}
		cutoff := ms - k.Window.Milliseconds()
		// Drop what left the window.
		n := 0
		for n < len(l.entries) && l.entries[n].at <= cutoff {
			n++
		}
		l.entries = slices.Delete(l.entries, 0, n)
		out[i].Count = len(l.entries)
		if k.Nth > 0 && len(l.entries) >= k.Nth {
			out[i].Nth = time.UnixMilli(l.entries[len(l.entries)-k.Nth].at)
		}
		// Insert in order (callers' clocks may interleave slightly).
		at := len(l.entries)
		for at > 0 && l.entries[at-1].at > ms {
			at--
		}
		l.entries = slices.Insert(l.entries, at, memEntry{at: ms, id: id})
		l.expires = max(l.expires, ms+k.Window.Milliseconds())
	}
	return out, nil
}

// Remove implements Counters.
func (m *Memory) Remove(_ context.Context, id uint64, names ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range names {
		l, ok := m.logs.Peek(name)
		if !ok {
			continue
		}
		l.entries = slices.DeleteFunc(l.entries, func(e memEntry) bool { return e.id == id })
		if len(l.entries) == 0 {
			m.logs.Remove(name)
		}
	}
	return nil
}

// Reset implements Counters.
func (m *Memory) Reset(_ context.Context, names ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range names {
		m.logs.Remove(name)
	}
	return nil
}

// sweepInterval is how often (by the callers' clock) every log is checked
// for expiry; in between, only the least recently used ones are.
const sweepInterval = time.Minute

// sweep drops expired logs: the least recently used while they are
// expired, and all of them once per sweepInterval. m.mu is held.
func (m *Memory) sweep(now int64) {
	for {
		_, l, ok := m.logs.GetOldest()
		if !ok || l.expires > now {
			break
		}
		m.logs.RemoveOldest()
	}
	if now-m.lastSweep < sweepInterval.Milliseconds() {
		return
	}
	m.lastSweep = now
	for _, name := range m.logs.Keys() {
		if l, ok := m.logs.Peek(name); ok && l.expires <= now {
			m.logs.Remove(name)
		}
	}
}
