package core_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/core"
)

func TestErrorIsMatrix(t *testing.T) {
	sentinels := []struct {
		name string
		err  error
	}{
		{"ErrMissingToken", core.ErrMissingToken},
		{"ErrInvalidToken", core.ErrInvalidToken},
		{"ErrForbidden", core.ErrForbidden},
		{"ErrUnavailable", core.ErrUnavailable},
		{"ErrMisconfigured", core.ErrMisconfigured},
		{"ErrConfig", core.ErrConfig},
	}
	tests := []struct {
		code core.Code
		want string // the sentinel name it must match; "" for none
	}{
		{core.CodeMissingToken, "ErrMissingToken"},
		{core.CodeInvalidToken, "ErrInvalidToken"},
		{core.CodeForbidden, "ErrForbidden"},
		{core.CodeUnavailable, "ErrUnavailable"},
		{core.CodeMisconfigured, "ErrMisconfigured"},
		{core.Code(""), ""},
		{core.Code("teapot"), ""},
	}
	for _, tt := range tests {
		for _, s := range sentinels {
			want := s.name == tt.want
			for _, wrapped := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/wrapped=%v", tt.code, s.name, wrapped)
				t.Run(name, func(t *testing.T) {
					var err error = &core.Error{Code: tt.code, Reason: core.ReasonExpired, Message: "m"}
					if wrapped {
						err = fmt.Errorf("outer: %w", err)
					}
					if got := errors.Is(err, s.err); got != want {
						t.Fatalf("errors.Is(%v, %s) = %v, want %v", err, s.name, got, want)
					}
				})
			}
		}
		t.Run(fmt.Sprintf("%s/Is(nil)", tt.code), func(t *testing.T) {
			if (&core.Error{Code: tt.code}).Is(nil) {
				t.Fatal("Is(nil) = true")
			}
		})
	}
}

func TestCodeValues(t *testing.T) {
	// The codes are the "error" field of every HTTP error body: they must never change.
	tests := []struct {
		code core.Code
		want string
	}{
		{core.CodeMissingToken, "missing_token"},
		{core.CodeInvalidToken, "invalid_token"},
		{core.CodeForbidden, "forbidden"},
		{core.CodeUnavailable, "unavailable"},
		{core.CodeMisconfigured, "misconfigured"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if string(tt.code) != tt.want {
				t.Fatalf("code = %q, want %q", tt.code, tt.want)
			}
		})
	}
}

func TestErrorAs(t *testing.T) {
	orig := &core.Error{Code: core.CodeInvalidToken, Reason: core.ReasonSignature, Message: "bad", Err: io.EOF}
	tests := []struct {
		name string
		err  error
	}{
		{"direct", orig},
		{"wrapped once", fmt.Errorf("verify: %w", orig)},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", orig))},
		{"joined", errors.Join(errors.New("other"), orig)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *core.Error
			if !errors.As(tt.err, &e) {
				t.Fatalf("errors.As(%v, *core.Error) = false", tt.err)
			}
			if e != orig {
				t.Fatalf("errors.As found %p, want %p", e, orig)
			}
			if e.Code != core.CodeInvalidToken || e.Reason != core.ReasonSignature {
				t.Fatalf("Code, Reason = %q, %q", e.Code, e.Reason)
			}
			if !errors.Is(tt.err, core.ErrInvalidToken) || !errors.Is(tt.err, io.EOF) {
				t.Fatalf("the chain lost the sentinel or the cause: %v", tt.err)
			}
		})
	}
	t.Run("not an Error", func(t *testing.T) {
		var e *core.Error
		if errors.As(fmt.Errorf("x: %w", core.ErrInvalidToken), &e) {
			t.Fatal("errors.As found a *core.Error in a bare sentinel")
		}
	})
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  *core.Error
		want string
	}{
		{"code only", &core.Error{Code: core.CodeForbidden}, "cfaccess: forbidden"},
		{"code and message", &core.Error{Code: core.CodeMissingToken, Message: "an Access token is required"},
			"cfaccess: missing_token: an Access token is required"},
		{"code and reason", &core.Error{Code: core.CodeInvalidToken, Reason: core.ReasonExpired},
			"cfaccess: invalid_token (expired)"},
		{"code, reason and message", &core.Error{Code: core.CodeInvalidToken, Reason: core.ReasonAudience, Message: "the token is for another application"},
			"cfaccess: invalid_token (audience): the token is for another application"},
		{"everything", &core.Error{Code: core.CodeUnavailable, Reason: core.ReasonKeysUnavailable, Message: "no keys", Err: errors.New("GET /cdn-cgi/access/certs: status 500")},
			"cfaccess: unavailable (keys_unavailable): no keys: GET /cdn-cgi/access/certs: status 500"},
		{"cause without message", &core.Error{Code: core.CodeInvalidToken, Reason: core.ReasonSignature, Err: errors.New("crypto/rsa: verification error")},
			"cfaccess: invalid_token (signature): crypto/rsa: verification error"},
		{"cause without reason", &core.Error{Code: core.CodeForbidden, Message: "not in group", Err: io.ErrUnexpectedEOF},
			"cfaccess: forbidden: not in group: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorUnwrap(t *testing.T) {
	cause := errors.New("cause")
	tests := []struct {
		name string
		err  *core.Error
		want error
	}{
		{"no cause", &core.Error{Code: core.CodeInvalidToken}, nil},
		{"cause", &core.Error{Code: core.CodeInvalidToken, Err: cause}, cause},
		{"context cause", &core.Error{Code: core.CodeUnavailable, Err: context.DeadlineExceeded}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Unwrap(); got != tt.want {
				t.Fatalf("Unwrap() = %v, want %v", got, tt.want)
			}
			if got := errors.Unwrap(tt.err); got != tt.want {
				t.Fatalf("errors.Unwrap = %v, want %v", got, tt.want)
			}
			if tt.want != nil && !errors.Is(tt.err, tt.want) {
				t.Fatalf("errors.Is(err, cause) = false")
			}
		})
	}
}

func TestContextCaller(t *testing.T) {
	c := core.NewCaller(&core.Claims{Subject: "s", Email: "ann@example.com"}, nil)
	outer := core.NewCaller(&core.Claims{Subject: "outer"}, nil)
	type otherKey struct{}
	bg := context.Background()
	tests := []struct {
		name   string
		ctx    context.Context
		want   *core.Caller
		wantOK bool
	}{
		{"absent", bg, nil, false},
		{"stored", core.ContextWithCaller(bg, c), c, true},
		{"stored under a derived context", context.WithValue(core.ContextWithCaller(bg, c), otherKey{}, 1), c, true},
		{"nil caller: seen, no caller", core.ContextWithCaller(bg, nil), nil, false},
		{"caller without claims", core.ContextWithCaller(bg, core.NewCaller(nil, nil)), nil, false},
		{"inner wins", core.ContextWithCaller(core.ContextWithCaller(bg, outer), c), c, true},
		{"nil caller hides an earlier one", core.ContextWithCaller(core.ContextWithCaller(bg, c), nil), nil, false},
		{"unrelated value", context.WithValue(bg, otherKey{}, c), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := core.CallerFromContext(tt.ctx)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("CallerFromContext = %p, %v; want %p, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestAsError: any error reads as an *Error: this package's as they are, wrapped or not;
// any other as unavailable (no verdict on the caller), wrapping it; nil as nil.
func TestAsError(t *testing.T) {
	if e := core.AsError(nil); e != nil {
		t.Fatalf("AsError(nil) = %v", e)
	}
	orig := &core.Error{Code: core.CodeForbidden, Reason: core.ReasonPolicy}
	for _, err := range []error{orig, fmt.Errorf("outer: %w", orig), errors.Join(io.EOF, orig)} {
		if e := core.AsError(err); e != orig {
			t.Errorf("AsError(%v) = %v, want the *Error it holds", err, e)
		}
	}
	other := fmt.Errorf("store: %w", io.ErrUnexpectedEOF)
	e := core.AsError(other)
	if e == nil || e.Code != core.CodeUnavailable || e.Status() != 503 || e.Message == "" ||
		!errors.Is(e, other) || !errors.Is(e, io.ErrUnexpectedEOF) || !errors.Is(e, core.ErrUnavailable) {
		t.Errorf("AsError(%v) = %#v, want an unavailable error wrapping it", other, e)
	}
	// A bare sentinel is no *Error either.
	if e := core.AsError(core.ErrInvalidToken); e.Code != core.CodeUnavailable {
		t.Errorf("AsError(ErrInvalidToken) = %v", e)
	}
}

// TestStatus: each code's HTTP status; an unknown code is 503, retrying being the safe advice.
func TestStatus(t *testing.T) {
	for code, want := range map[core.Code]int{
		core.CodeMissingToken:  401,
		core.CodeInvalidToken:  401,
		core.CodeForbidden:     403,
		core.CodeMisconfigured: 500,
		core.CodeUnavailable:   503,
		core.Code(""):          503,
		core.Code("teapot"):    503,
	} {
		if got := code.Status(); got != want {
			t.Errorf("Code(%q).Status() = %d, want %d", code, got, want)
		}
		if got := (&core.Error{Code: code}).Status(); got != want {
			t.Errorf("Error{Code: %q}.Status() = %d, want %d", code, got, want)
		}
	}
}

func TestClaimsIsServiceToken(t *testing.T) {
	tests := []struct {
		name string
		c    core.Claims
		want bool
	}{
		{"service token", core.Claims{CommonName: "0123456789abcdef0123456789abcdef.access"}, true},
		{"user", core.Claims{Subject: "u", Email: "ann@example.com"}, false},
		{"user with a common name", core.Claims{Subject: "u", CommonName: "x.access"}, false},
		{"neither", core.Claims{}, false},
		{"email only", core.Claims{Email: "ann@example.com"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.IsServiceToken(); got != tt.want {
				t.Fatalf("IsServiceToken() = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("nil claims", func(t *testing.T) {
		var c *core.Claims
		if c.IsServiceToken() {
			t.Fatal("(*Claims)(nil).IsServiceToken() = true")
		}
	})
}

func TestClaimsMarshalJSONRaw(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{"compact", `{"iss":"https://t.cloudflareaccess.com","sub":"x","unknown":[1,2]}`},
		{"spaced and unordered", "{ \"z\" : 1,\n \"a\": \"b\" }"},
		{"raw that disagrees with the fields", `{"email":"raw@example.com"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &core.Claims{Email: "field@example.com", Subject: "field", Raw: json.RawMessage(tt.raw)}
			got, err := c.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.raw {
				t.Fatalf("MarshalJSON() = %s, want Raw verbatim %s", got, tt.raw)
			}
			// Through encoding/json (which compacts a Marshaler's output), and nested.
			var want bytes.Buffer
			if err := json.Compact(&want, []byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			enc, err := json.Marshal(map[string]any{"claims": c})
			if err != nil {
				t.Fatal(err)
			}
			if wantDoc := `{"claims":` + want.String() + `}`; string(enc) != wantDoc {
				t.Fatalf("json.Marshal = %s, want %s", enc, wantDoc)
			}
		})
	}
}

func TestClaimsMarshalJSONFields(t *testing.T) {
	exp := time.Unix(1_700_003_600, 0)
	nbf := time.Unix(1_700_000_000, 0)
	iat := time.Unix(1_699_999_990, 0)
	tests := []struct {
		name   string
		c      core.Claims
		want   map[string]any // decoded JSON, numbers as json.Number
		absent []string
	}{
		{
			name: "user token",
			c: core.Claims{
				Issuer: "https://t.cloudflareaccess.com", Subject: "sub-1", Audience: []string{"a1", "a2"},
				ExpiresAt: exp, NotBefore: nbf, IssuedAt: iat,
				Email: "ann@example.com", Type: "app", IdentityNonce: "n1", Country: "DE",
				Custom: json.RawMessage(`{"groups":["g1"]}`),
			},
			want: map[string]any{
				"iss": "https://t.cloudflareaccess.com", "sub": "sub-1", "aud": []any{"a1", "a2"},
				"exp": json.Number("1700003600"), "nbf": json.Number("1700000000"), "iat": json.Number("1699999990"),
				"email": "ann@example.com", "type": "app", "identity_nonce": "n1", "country": "DE",
				"custom": map[string]any{"groups": []any{"g1"}},
			},
			absent: []string{"common_name"},
		},
		{
			name: "service token",
			c: core.Claims{
				Issuer: "https://t.cloudflareaccess.com", Audience: []string{"a1"}, ExpiresAt: exp,
				CommonName: "abc.access",
			},
			want: map[string]any{
				"iss": "https://t.cloudflareaccess.com", "sub": "", "aud": []any{"a1"},
				"exp": json.Number("1700003600"), "common_name": "abc.access",
			},
			absent: []string{"nbf", "iat", "email", "type", "identity_nonce", "country", "custom"},
		},
		{
			name:   "zero claims",
			c:      core.Claims{},
			want:   map[string]any{"sub": ""},
			absent: []string{"iss", "aud", "exp", "nbf", "iat", "email", "type", "identity_nonce", "country", "common_name", "custom"},
		},
		{
			name: "fractional time truncates to seconds",
			c:    core.Claims{Subject: "s", ExpiresAt: exp.Add(999 * time.Millisecond)},
			want: map[string]any{"sub": "s", "exp": json.Number("1700003600")},
		},
		{
			name: "empty raw is not used",
			c:    core.Claims{Subject: "s", Raw: json.RawMessage{}},
			want: map[string]any{"sub": "s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.c.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			var got map[string]any
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("MarshalJSON produced invalid JSON %s: %v", b, err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("MarshalJSON() = %s: %d fields, want %d", b, len(got), len(tt.want))
			}
			for k, w := range tt.want {
				g, ok := got[k]
				if !ok {
					t.Errorf("MarshalJSON() = %s: %q missing", b, k)
					continue
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%q = %#v, want %#v", k, g, w)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("MarshalJSON() = %s: %q present, want omitted", b, k)
				}
			}
			// encoding/json uses the method for a *Claims.
			viaJSON, err := json.Marshal(&tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(viaJSON, b) {
				t.Errorf("json.Marshal(&c) = %s, want %s", viaJSON, b)
			}
		})
	}
}

// A Claims held by value (say, a field of a response struct) should marshal like a *Claims.
func TestClaimsMarshalJSONByValue(t *testing.T) {
	c := core.Claims{Subject: "s", Email: "ann@example.com", ExpiresAt: time.Unix(1_700_000_000, 0)}
	got, err := json.Marshal(struct{ Claims core.Claims }{c})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Claims":{"sub":"s","exp":1700000000,"email":"ann@example.com"}}`
	if string(got) != want {
		t.Fatalf("json.Marshal = %s, want %s", got, want)
	}
}
