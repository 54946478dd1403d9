package core

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzIdentityDecode holds decodeIdentity to its contract on any body get-identity might
// send: it never panics; it accepts exactly the JSON objects (a field of an unexpected type is
// left empty, not an error); it keeps the document whole in Raw; and no group it reports is
// empty, so that no blank name or ID can ever match a policy.
func FuzzIdentityDecode(f *testing.F) {
	for _, seed := range []string{
		`{"id":"1","name":"Ann","email":"ann@example.com","groups":[{"id":"g1","name":"admins","email":"a@x.io"}],"idp":{"id":"i","type":"okta"},"geo":{"country":"US"},"iat":1700000000,"amr":["pwd"],"version":2,"devicePosture":{"x":1},"custom":{"a":[1]}}`,
		`{"groups":["admins","ops"]}`,
		`{"groups":[1,null,{"name":""},{"id":3,"name":"x"},"",[]]}`,
		`{"groups":"admins","version":"two","iat":"x","is_warp":"yes","idp":[]}`,
		`{"iat":1e300,"version":1e30}`,
		` {} `, `null`, `[]`, `"x"`, ``, `{`, `{"a":}`, "{\"name\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := decodeIdentity(body)
		trimmed := bytes.TrimLeft(body, " \t\r\n")
		wantOK := json.Valid(body) && len(trimmed) > 0 && trimmed[0] == '{'
		if (err == nil) != wantOK {
			t.Fatalf("decodeIdentity(%q) error = %v; a JSON object: %v", body, err, wantOK)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(id.Raw, body) {
			t.Fatal("Raw is not the document")
		}
		for _, g := range id.Groups {
			if g == (Group{}) {
				t.Fatalf("an empty group from %q", body)
			}
		}
	})
}
