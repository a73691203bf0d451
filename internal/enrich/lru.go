package enrich

import "sync"

// lru is a bounded map that forgets the least recently used entry when
// full. Real traffic repeats a few thousand user agents and addresses, so
// a hit (a map lookup and two pointer moves) stands in for the slow path.
// It is safe for concurrent use: the clean consumer writes several batches
// at once.
type lru[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	items map[K]*lruNode[K, V]
	head  lruNode[K, V] // sentinel: head.next is the newest, head.prev the oldest
}

type lruNode[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruNode[K, V]
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	// The map grows as entries come: sized for max up front, the address
	// cache took 3.7 MB on a site that never has 65,536 visitors.
	c := &lru[K, V]{max: max, items: map[K]*lruNode[K, V]{}}
	c.head.next, c.head.prev = &c.head, &c.head
	return c
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.unlink(n)
	c.pushFront(n)
	return n.val, true
}

func (c *lru[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.items[k]; ok {
		n.val = v
		c.unlink(n)
		c.pushFront(n)
		return
	}
	var n *lruNode[K, V]
	if len(c.items) >= c.max {
		// Reuse the oldest node rather than allocate.
		n = c.head.prev
		c.unlink(n)
		delete(c.items, n.key)
		*n = lruNode[K, V]{}
	} else {
		n = new(lruNode[K, V])
	}
	n.key, n.val = k, v
	c.items[k] = n
	c.pushFront(n)
}

// clear empties the cache (a new geo database was loaded).
func (c *lru[K, V]) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.items)
	c.head.next, c.head.prev = &c.head, &c.head
}

func (c *lru[K, V]) unlink(n *lruNode[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
}

func (c *lru[K, V]) pushFront(n *lruNode[K, V]) {
	n.prev, n.next = &c.head, c.head.next
	c.head.next.prev = n
	c.head.next = n
}
