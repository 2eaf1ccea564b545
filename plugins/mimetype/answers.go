package mimetype

import (
	"sync"
	"weak"

	"github.com/stoq-go/stoq/core/v3"
)

// answerCacheSize bounds how many of the dispatcher's answers are kept for
// the worker: enough for a round of a large archive's members.
const answerCacheSize = 4096

// answerCache hands the dispatcher's answer for a payload to the worker
// when both run on it (-R mimetype with -a mimetype, or a worker that
// requires mimetype), so libmagic runs once per payload, not twice.
//
// It holds weak pointers: a cached answer never keeps a payload (and its
// content) alive, and a payload that is gone cannot be mistaken for a new
// one at the same address. Payload content is read-only by contract, so an
// answer stays true for as long as its payload exists. The oldest answer is
// dropped when the cache is full; the worker then asks libmagic again.
type answerCache struct {
	mu      sync.Mutex
	answers map[weak.Pointer[core.Payload]]string
	order   []weak.Pointer[core.Payload] // a ring, oldest at next
	next    int
}

func newAnswerCache(size int) *answerCache {
	return &answerCache{answers: make(map[weak.Pointer[core.Payload]]string, size), order: make([]weak.Pointer[core.Payload], 0, size)}
}

func (c *answerCache) put(p *core.Payload, mimetype string) {
	key := weak.Make(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.answers[key]; ok {
		c.answers[key] = mimetype
		return
	}
	if len(c.order) < cap(c.order) {
		c.order = append(c.order, key)
	} else {
		delete(c.answers, c.order[c.next])
		c.order[c.next] = key
		c.next = (c.next + 1) % len(c.order)
	}
	c.answers[key] = mimetype
}

// get returns the answer cached for p, if any.
func (c *answerCache) get(p *core.Payload) (string, bool) {
	key := weak.Make(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	mt, ok := c.answers[key]
	return mt, ok
}
