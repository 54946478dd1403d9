package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Paths on the team domain.
const (
	certsPath       = "/cdn-cgi/access/certs"
	identityPath    = "/cdn-cgi/access/get-identity"
	loginPathPrefix = "/cdn-cgi/access/login/"
	logoutPath      = "/cdn-cgi/access/logout"
)

// teamClient returns a copy of c (or of a zero client) that follows redirects only within
// origin: the team domain is the one host whose answers are trusted, and a redirect must not
// carry a token, or a key set, anywhere else.
func teamClient(c *http.Client, origin string) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
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
	return &cp
}

// get fetches path from the team domain and returns the body of a 200 answer, or an error
// and the status (0 when there was no answer). It never waits longer than the request
// timeout, whatever the server does, and never reads more than maxBodySize bytes. token, when
// not empty, is sent as the CF_Authorization cookie.
func (s *settings) get(ctx context.Context, path, token string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.teamDomain+path, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Cookie", CookieName+"="+token)
	}
	resp, err := s.client.Do(req)
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: reading body: %w", path, err)
	}
	if len(body) > maxBodySize {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: body larger than %d bytes", path, maxBodySize)
	}
	return body, resp.StatusCode, nil
}
