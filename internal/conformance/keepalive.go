package conformance

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/accesstest"
)

// keepAlive sends many requests with different tokens of one length, one after the other on
// one keep-alive connection, so that a server that reuses its read buffers (fasthttp does)
// reads each token into the very bytes that held the previous one. If anything kept a token
// without copying it, the cache would answer for the wrong user. v must be the verifier
// behind base's /api/whoami, so that its Stats show the cache was exercised.
func keepAlive(t *testing.T, team *accesstest.Server, v *core.Verifier, base string) {
	const users, rounds = 6, 20
	var tokens, emails []string
	for i := range users {
		emails = append(emails, fmt.Sprintf("user%02d@example.com", i))
		tokens = append(tokens, team.Mint(accesstest.Token{Email: emails[i], IssuedAt: time.Now().Truncate(time.Second)}))
		if len(tokens[i]) != len(tokens[0]) {
			t.Fatalf("tokens of different lengths (%d, %d): the test needs one length", len(tokens[i]), len(tokens[0]))
		}
	}

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	hits := v.Stats().TokenCache.Hits
	for n := range rounds * users {
		i := (n*5 + n/users) % users // a different neighbour each round
		how := core.HeaderName + ": " + tokens[i]
		if n%3 == 0 {
			how = "Cookie: a=b; " + core.CookieName + "=" + tokens[i]
		}
		if _, err := fmt.Fprintf(conn, "GET /api/whoami HTTP/1.1\r\nHost: %s\r\n%s\r\n\r\n", strings.TrimPrefix(base, "http://"), how); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("request %d: %v", n, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"email":"`+emails[i]+`"`) {
			t.Fatalf("request %d with %s's token: %d %s", n, emails[i], resp.StatusCode, body)
		}
	}
	if got, want := v.Stats().TokenCache.Hits-hits, uint64(rounds*users-users); got < want {
		t.Errorf("%d answers from the token cache, want at least %d: the test no longer exercises it", got, want)
	}
}
