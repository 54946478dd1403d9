package accesstest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
)

func (s *Server) serveIdentity(w http.ResponseWriter, r *http.Request) {
	s.requests[identityEndpoint].Add(1)
	token := adapter.CookieValue(r.Header["Cookie"], core.CookieName)
	doc, err := s.identity(token)
	if err != nil {
		s.serve(w, r, identityEndpoint, http.StatusUnauthorized, mustJSON(map[string]string{"err": err.Error()}))
		return
	}
	s.serve(w, r, identityEndpoint, http.StatusOK, doc)
}

// identity checks token as Access would (a published key's RS256 signature, not expired) and
// returns the identity recorded when it was minted. A service token's JWT has no identity:
// get-identity refuses it, as Access does (backstage #20924: "the get-identity check for a
// Service Token returns an error"). Neither that report nor Cloudflare's documentation gives
// the status, so it is the 401 of every other refusal here.
func (s *Server) identity(token string) ([]byte, error) {
	if token == "" {
		return nil, errors.New("no CF_Authorization cookie")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("malformed token")
	}
	var header struct{ Alg, Kid string }
	var claims map[string]any
	if err := decodeSegment(parts[0], &header); err != nil || header.Alg != "RS256" {
		return nil, errors.New("bad token header")
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, errors.New("bad token payload")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("bad token signature")
	}
	pub := s.publishedKey(header.Kid)
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if pub == nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
		return nil, errors.New("invalid token signature")
	}
	if exp, _ := claims["exp"].(float64); time.Now().Unix() >= int64(exp) {
		return nil, errors.New("expired token")
	}
	if isService(claims) {
		return nil, errors.New("a service token has no identity")
	}
	s.mu.Lock()
	info, ok := s.identities[identityRef(claims)]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("no identity for this token")
	}
	return info.doc, nil
}

func (s *Server) publishedKey(kid string) *rsa.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.published {
		if k.kid == kid {
			return &k.priv.PublicKey
		}
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
