package conformance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// keepAlive sends many requests with different tokens of one length over a few keep-alive
// connections at once, so that a server that reuses its read buffers (fasthttp does) reads
// each token into the very bytes that held another. If anything kept a token without copying
// it, the cache would answer for the wrong user. The callers that the handlers saw are kept
// beyond their requests, as a handler that hands its caller to a goroutine does, and must
// still be their users' afterwards: their claims, and their identity, which get-identity
// looks up with the token the caller kept. v must be the verifier behind base's
// /api/whoami, so that its Stats show the cache was exercised.
func keepAlive(t *testing.T, team *accesstest.Server, v *core.Verifier, base string) {
	const users, conns, perConn = 12, 4, 36
	var tokens, emails []string
	for i := range users {
		emails = append(emails, fmt.Sprintf("user%02d@example.com", i))
		tokens = append(tokens, team.Mint(accesstest.Token{Email: emails[i], IssuedAt: time.Now().Truncate(time.Second)}))
		if len(tokens[i]) != len(tokens[0]) {
			t.Fatalf("tokens of different lengths (%d, %d): the test needs one length", len(tokens[i]), len(tokens[0]))
		}
	}

	hits := v.Stats().TokenCache.Hits
	kept.start()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			if err := keepAliveConn(base, w, perConn, tokens, emails); err != nil {
				t.Errorf("connection %d: %v", w, err)
			}
		})
	}
	wg.Wait()
	callers := kept.stop()

	// Each token may miss the cache once per connection that sent it before it was cached.
	if got, want := v.Stats().TokenCache.Hits-hits, uint64(conns*perConn-conns*users); got < want {
		t.Errorf("%d answers from the token cache, want at least %d: the test no longer exercises it", got, want)
	}
	if len(callers) == 0 {
		t.Fatal("no caller reached WhoAmI")
	}
	for c, answered := range callers {
		email := answered[0]
		if !slices.Contains(emails, email) || slices.ContainsFunc(answered, func(e string) bool { return e != email }) {
			t.Fatalf("one caller answered for %q", answered)
		}
		if c.Claims.Email != email {
			t.Errorf("a kept caller of %s now says %s", email, c.Claims.Email)
		}
		if id, err := c.Identity(context.Background()); err != nil || id.Email != email {
			t.Errorf("the identity of a kept caller of %s: %v, %v", email, id, err)
		}
	}
}

// keepAliveConn sends n requests on one connection, the ith with the token of user
// (w*7 + i*5) % len(tokens), in the header or in a cookie, and checks each answer names its
// token's user.
func keepAliveConn(base string, w, n int, tokens, emails []string) error {
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	for i := range n {
		u := (w*7 + i*5) % len(tokens)
		how := core.HeaderName + ": " + tokens[u]
		if (w+i)%3 == 0 {
			how = "Cookie: a=b; " + core.CookieName + "=" + tokens[u]
		}
		if _, err := fmt.Fprintf(conn, "GET /api/whoami HTTP/1.1\r\nHost: %s\r\n%s\r\n\r\n", host, how); err != nil {
			return err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"email":"`+emails[u]+`"`) {
			return fmt.Errorf("request %d with %s's token: %d %s", i, emails[u], resp.StatusCode, body)
		}
	}
	return nil
}
