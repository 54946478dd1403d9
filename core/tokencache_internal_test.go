package core

import (
	"testing"
	"time"
	"unsafe"
)

// TestTokenCacheOwnsItsKeys: frameworks such as fasthttp hand out strings that alias buffers
// they reuse. The cache must copy the token it keeps, or the next request would rewrite the
// key of an entry under the map's feet.
func TestTokenCacheOwnsItsKeys(t *testing.T) {
	c := newTokenCache(4, 0)
	now := time.Now()
	buf := []byte("header.payload.signature")
	aliased := unsafe.String(&buf[0], len(buf))
	c.put(aliased, cacheEntry{claims: &Claims{ExpiresAt: now.Add(time.Hour)}, key: &signingKey{}}, now)
	copy(buf, "XXXXXX") // the framework reuses its buffer for the next request
	if _, ok := c.get("header.payload.signature"); !ok {
		t.Fatal("the cached token was rewritten through the caller's buffer")
	}
}

func TestTokenCacheEvictsWithdrawnFirst(t *testing.T) {
	c := newTokenCache(2, 0)
	now := time.Now()
	live, gone := &signingKey{}, &signingKey{}
	c.put("a", cacheEntry{claims: &Claims{ExpiresAt: now.Add(time.Hour)}, key: live}, now)
	c.put("b", cacheEntry{claims: &Claims{ExpiresAt: now.Add(time.Hour)}, key: gone}, now)
	gone.withdrawn.Store(true)
	c.put("c", cacheEntry{claims: &Claims{ExpiresAt: now.Add(time.Hour)}, key: live}, now)
	if _, ok := c.get("a"); !ok {
		t.Error("a live entry was evicted while a withdrawn one could go")
	}
	if _, ok := c.get("b"); ok {
		t.Error("the withdrawn entry survived")
	}
}
