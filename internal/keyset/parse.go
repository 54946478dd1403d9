package keyset

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/MicahParks/jwkset"
)

// MinRSABits is the smallest RSA modulus accepted from the key set.
const MinRSABits = 2048

// Parse reads the "keys" of a certs document. Keys that are not RS256 signing keys of at
// least MinRSABits are skipped. A kid listed twice with different keys (or once with a key
// that is skipped) is ambiguous: neither is used, and its kid is returned in ambiguous, so
// that no token can choose which of two keys verifies it. The same key listed twice is
// harmless. A set left with no key is an error, so the last good set stays.
func Parse(body []byte) (keys map[string]*Key, ambiguous []string, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("certs: not a JSON key set: %w", err)
	}
	keys = make(map[string]*Key, len(doc.Keys))
	listed := make(map[string]bool, len(doc.Keys)) // every kid seen, usable or not
	var skipped []error
	for i, raw := range doc.Keys {
		k, err := parseKey(raw)
		kid := jwkKID(raw)
		if listed[kid] && kid != "" {
			if prev, ok := keys[kid]; !ok || k == nil || !prev.Public.Equal(k.Public) {
				ambiguous = append(ambiguous, kid)
			}
		}
		listed[kid] = true
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		keys[k.KID] = k
	}
	slices.Sort(ambiguous)
	ambiguous = slices.Compact(ambiguous)
	for _, kid := range ambiguous {
		delete(keys, kid)
		skipped = append(skipped, fmt.Errorf("kid %q listed with two different keys", kid))
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("certs: no usable RS256 key among %d: %w", len(doc.Keys), errors.Join(skipped...))
	}
	return keys, ambiguous, nil
}

// jwkKID reads the kid of a JWK, usable or not, as jwkset reads it.
func jwkKID(raw json.RawMessage) string {
	var k struct {
		KID string `json:"kid"`
	}
	_ = json.Unmarshal(raw, &k)
	return k.KID
}

func parseKey(raw json.RawMessage) (*Key, error) {
	jwk, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, err
	}
	m := jwk.Marshal()
	pub, ok := jwk.Key().(*rsa.PublicKey)
	switch {
	case m.KID == "":
		return nil, errors.New("no kid")
	case !ok:
		return nil, fmt.Errorf("kid %q: key type %q, want RSA", m.KID, m.KTY)
	case m.ALG != "" && m.ALG != jwkset.AlgRS256:
		return nil, fmt.Errorf("kid %q: alg %q, want RS256", m.KID, m.ALG)
	case m.USE != "" && m.USE != jwkset.UseSig:
		return nil, fmt.Errorf("kid %q: use %q, want sig", m.KID, m.USE)
	case pub.N.BitLen() < MinRSABits:
		return nil, fmt.Errorf("kid %q: %d-bit RSA key, want at least %d", m.KID, pub.N.BitLen(), MinRSABits)
	}
	return &Key{KID: m.KID, Public: pub}, nil
}
