package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/internal/keyset"
	"github.com/cfaccess/cfaccess/internal/teamclient"
)

// fetchTimeout bounds the one call inspect makes, for the team's key set.
const fetchTimeout = 15 * time.Second

// KeySet is a team's certs document and the keys it holds.
type KeySet struct {
	Body      []byte
	Keys      map[string]*keyset.Key
	Ambiguous []string
}

// FetchKeys fetches the key set of team (canonical) as the verifier does: the same client,
// the same bounds, the same parsing. No token is sent.
func FetchKeys(ctx context.Context, team string, client *http.Client) (*KeySet, error) {
	body, _, err := teamclient.New(team, client, fetchTimeout).Get(ctx, teamclient.CertsPath, "")
	if err != nil {
		return nil, err
	}
	keys, ambiguous, err := keyset.Parse(body)
	if err != nil {
		return nil, err
	}
	return &KeySet{Body: body, Keys: keys, Ambiguous: ambiguous}, nil
}

// Verify runs a real core.Verifier on tok, as an application configured with team and
// audiences would, at now, and returns its error. It is given the key set already fetched,
// through an HTTP client that answers the certs request with it and refuses every other:
// the verdict is the verifier's own, about the very keys the checks saw, and nothing leaves
// the machine.
func Verify(ctx context.Context, team string, audiences []string, ks *KeySet, tok string, now time.Time) error {
	v, err := core.NewVerifier(core.Config{
		TeamDomain: team,
		Audiences:  audiences,
		HTTPClient: &http.Client{Transport: replay{url: team + teamclient.CertsPath, body: ks.Body}},
		Logger:     slog.New(slog.DiscardHandler),
		Now:        func() time.Time { return now },
		Tokens:     core.TokenConfig{CacheSize: core.None},
		// The key set is in memory: waiting costs nothing, and not waiting would make a
		// busy machine's verdict "unavailable".
		Keys: core.KeyConfig{StartupWait: time.Minute, FetchWait: time.Minute},
	})
	if err != nil {
		return err
	}
	_, err = v.Verify(ctx, tok)
	return err
}

// replay answers GET url with body, and refuses everything else.
type replay struct {
	url  string
	body []byte
}

func (r replay) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	if req.Method != http.MethodGet || req.URL.String() != r.url {
		return nil, errors.New("cfaccess inspect makes no request but for the key set")
	}
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(r.body)),
		ContentLength: int64(len(r.body)),
		Request:       req,
	}, nil
}

// Verdict is the conclusion of inspect.
type Verdict string

// The verdicts.
const (
	Verified    Verdict = "verified"    // every check passes: exit 0
	Decoded     Verdict = "decoded"     // read, not verified, as no team was given: exit 0
	Refused     Verdict = "refused"     // a check fails: exit 1
	Incomplete  Verdict = "incomplete"  // every check but aud passes, and no AUD was given: exit 1
	Unavailable Verdict = "unavailable" // the key set could not be had: exit 1
)

// describe says what err, the verifier's refusal, means, for the last line of the report.
func describe(err error) (core.Reason, string) {
	e := core.AsError(err)
	if e == nil {
		return "", ""
	}
	msg := e.Message
	if e.Code == core.CodeUnavailable && e.Err != nil {
		msg = fmt.Sprintf("%s: %v", msg, e.Err)
	}
	return e.Reason, msg
}
