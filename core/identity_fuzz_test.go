package core

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzIdentityDecode holds decodeIdentity to its contract on any body get-identity might
// send: it never panics; it accepts exactly the JSON objects (a field of an unexpected type is
// left empty, not an error); it keeps the document whole in Raw; no group it reports is
// empty, so that no blank name or ID can ever match a policy; and the fields and groups it
// reports are those of encoding/json's map[string]any reading of the document, whose keys
// match exactly as Access spells them, never in another case.
func FuzzIdentityDecode(f *testing.F) {
	for _, seed := range []string{
		`{"id":"1","name":"Ann","email":"ann@example.com","groups":[{"id":"g1","name":"admins","email":"a@x.io"}],"idp":{"id":"i","type":"okta"},"geo":{"country":"US"},"iat":1700000000,"amr":["pwd"],"version":2,"devicePosture":{"x":1},"custom":{"a":[1]}}`,
		`{"groups":["admins","ops"]}`,
		`{"groups":[1,null,{"name":""},{"id":3,"name":"x"},"",[]]}`,
		`{"groups":"admins","version":"two","iat":"x","is_warp":"yes","idp":[]}`,
		`{"iat":1e300,"version":1e30}`,
		`{"GROUPS":["admins"],"groups":[{"NAME":"admins"},{"name":"ops","Id":"x"}],"EMAIL":"e","Email":"f"}`,
		`{"idp":{"ID":"i","type":"okta"},"geo":{"Country":"FR"},"Version":2,"IS_WARP":true}`,
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

		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber() // any number, 1e700 too
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
		obj := func(v any) map[string]any { o, _ := v.(map[string]any); return o }
		if id.ID != str(m, "id") || id.Name != str(m, "name") || id.Email != str(m, "email") ||
			id.IdP.Type != str(obj(m["idp"]), "type") || id.Geo.Country != str(obj(m["geo"]), "country") {
			t.Fatalf("fields %+v differ from the exact keys of %q", id, body)
		}
		var want []Group
		if list, ok := m["groups"].([]any); ok {
			for _, item := range list {
				g := Group{Name: str(map[string]any{"name": item}, "name")}
				if o := obj(item); o != nil {
					g = Group{ID: str(o, "id"), Name: str(o, "name"), Email: str(o, "email")}
				}
				if g != (Group{}) {
					want = append(want, g)
				}
			}
		}
		if len(id.Groups) != len(want) || (len(want) > 0 && !reflect.DeepEqual(id.Groups, want)) {
			t.Fatalf("groups %+v, want %+v from %q", id.Groups, want, body)
		}
	})
}
