package cache

// Waiting returns how many callers wait for shared calls, for tests.
func Waiting(c *Cache) int {
	c.flights.mu.Lock()
	defer c.flights.mu.Unlock()
	n := 0
	for _, f := range c.flights.calls {
		n += f.waiters
	}
	return n
}
