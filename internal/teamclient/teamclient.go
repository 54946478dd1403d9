// Package teamclient makes the calls to a Cloudflare Access team domain: the key set and
// get-identity. The team domain is the one origin whose answers are trusted, so the client
// follows redirects only within it, bounds every call by a timeout whatever the server does,
// and reads no more than MaxBodySize bytes of an answer.
package teamclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Paths on the team domain.
const (
	CertsPath       = "/cdn-cgi/access/certs"
	IdentityPath    = "/cdn-cgi/access/get-identity"
	LoginPathPrefix = "/cdn-cgi/access/login/"
	LogoutPath      = "/cdn-cgi/access/logout"
)

// MaxBodySize bounds every document read from the team domain.
const MaxBodySize = 1 << 20

// CookieName is the cookie get-identity reads the token from.
const CookieName = "CF_Authorization"

// Client calls one team domain.
type Client struct {
	origin  string
	http    *http.Client
	timeout time.Duration
}

// New returns a client of origin ("https://myteam.cloudflareaccess.com") over a copy of base
// (nil: a zero http.Client) that refuses redirects to any other origin, whatever base's
// CheckRedirect says, and gives up on each call after timeout.
func New(origin string, base *http.Client, timeout time.Duration) *Client {
	var cp http.Client
	if base != nil {
		cp = *base
	}
	next := cp.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if got := req.URL.Scheme + "://" + req.URL.Host; got != origin {
			return fmt.Errorf("redirect to %s refused: only %s is trusted", got, origin)
		}
		if len(via) >= 5 {
			return errors.New("stopped after 5 redirects")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &Client{origin: origin, http: &cp, timeout: timeout}
}

// Get fetches path and returns the body of a 200 answer, or an error and the status (0 when
// there was no answer). token, when not empty, is sent as the CF_Authorization cookie, as
// Access's own pages send it.
func (c *Client) Get(ctx context.Context, path, token string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.origin+path, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Cookie", CookieName+"="+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is known; keep the message short
		}
		return nil, 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: status %s", path, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: reading body: %w", path, err)
	}
	if len(body) > MaxBodySize {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: body larger than %d bytes", path, MaxBodySize)
	}
	return body, resp.StatusCode, nil
}
