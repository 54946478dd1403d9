package inspect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Unverified is a token read for display, trusting nothing: its header and payload as the
// token spells them, whether or not the signature holds.
type Unverified struct {
	Header  []Member        // in the token's order; nil when the header does not decode
	Claims  []Member        // in the token's order; nil when the payload does not decode
	RawHead json.RawMessage // the header JSON, for -json
	Raw     json.RawMessage // the payload JSON, for -json
	Err     error           // why the header or payload does not decode
}

// Member is one member of a JSON object.
type Member struct {
	Name  string
	Value json.RawMessage
}

// Decode reads tok's header and payload for display. It reads them whatever they say: what
// it returns is to be shown as unverified.
func Decode(tok string) Unverified {
	var d Unverified
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		d.Err = fmt.Errorf("a token is three base64url segments separated by dots; this has %d", len(parts))
		return d
	}
	var err error
	if d.RawHead, d.Header, err = decodeSegment(parts[0]); err != nil {
		d.Err = fmt.Errorf("the header: %w", err)
		return d
	}
	if d.Raw, d.Claims, err = decodeSegment(parts[1]); err != nil {
		d.Err = fmt.Errorf("the payload: %w", err)
	}
	return d
}

// Claim returns the value of the claim name, nil when absent.
func (d Unverified) Claim(name string) json.RawMessage { return find(d.Claims, name) }

// HeaderField returns the value of the header member name, nil when absent.
func (d Unverified) HeaderField(name string) json.RawMessage { return find(d.Header, name) }

func find(ms []Member, name string) json.RawMessage {
	for _, m := range ms {
		if m.Name == name {
			return m.Value
		}
	}
	return nil
}

// String returns the claim name as a string, "" when absent or not a string.
func (d Unverified) String(name string) string {
	var s string
	if v := d.Claim(name); v != nil && json.Unmarshal(v, &s) == nil {
		return s
	}
	return ""
}

// Kind says what the claims describe: "user" (an e-mail or a sub), "service" (a
// common_name and no sub, as Access mints for service tokens), or "unknown".
func (d Unverified) Kind() string {
	switch {
	case d.Claims == nil:
		return "unknown"
	case d.String("sub") == "" && d.String("common_name") != "":
		return "service"
	case d.String("email") != "" || d.String("sub") != "":
		return "user"
	}
	return "unknown"
}

func decodeSegment(seg string) (json.RawMessage, []Member, error) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		// Some tools pad base64url, or use the standard alphabet: say so rather than "garbage".
		if _, err2 := base64.URLEncoding.DecodeString(seg); err2 == nil {
			return nil, nil, errors.New("it is padded base64url; JWTs are unpadded")
		}
		return nil, nil, fmt.Errorf("it is not base64url: %w", err)
	}
	ms, err := members(b)
	if err != nil {
		return nil, nil, err
	}
	return json.RawMessage(b), ms, nil
}

// members reads the members of the JSON object b, in order.
func members(b []byte) ([]Member, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("it is not a JSON object")
	}
	ms := []Member{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("it is not valid JSON: %w", err)
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("it is not valid JSON: %w", err)
		}
		ms = append(ms, Member{Name: name, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("it is not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("it holds more than one JSON value")
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("it holds more than one JSON value")
	}
	return ms, nil
}
