package adapter_test

import (
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
	"github.com/cfaccess/cfaccess/internal/testkit"
)

// fakeRequest is an adapter.Request over plain maps, to test TokenFrom apart from net/http.
type fakeRequest struct {
	headers map[string]string
	cookies map[string]string
}

func (f fakeRequest) Header(name string) string { return f.headers[name] }
func (f fakeRequest) Values(name string) []string {
	if v, ok := f.headers[name]; ok {
		return []string{v}
	}
	return nil
}
func (f fakeRequest) Cookie(name string) string { return f.cookies[name] }
func (f fakeRequest) Method() string            { return "GET" }
func (f fakeRequest) Host() string              { return "app.example.com" }
func (f fakeRequest) URI() string               { return "/" }

// A token-shaped value that would verify if the cookie were ever consulted.
const validLooking = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ4In0.c2ln"

func TestTokenFromFakeRequest(t *testing.T) {
	tests := []struct {
		name       string
		headers    map[string]string
		cookies    map[string]string
		wantToken  string
		wantSource core.TokenSource
	}{
		{"nothing", nil, nil, "", core.SourceNone},
		{"header only", map[string]string{core.HeaderName: "h.t.s"}, nil, "h.t.s", core.SourceHeader},
		{"cookie only", nil, map[string]string{core.CookieName: "c.t.s"}, "c.t.s", core.SourceCookie},
		{"header wins over cookie", map[string]string{core.HeaderName: "h.t.s"},
			map[string]string{core.CookieName: "c.t.s"}, "h.t.s", core.SourceHeader},
		{"an invalid header still wins over a valid-looking cookie", map[string]string{core.HeaderName: "garbage"},
			map[string]string{core.CookieName: validLooking}, "garbage", core.SourceHeader},
		{"header is trimmed", map[string]string{core.HeaderName: " \th.t.s \t"}, nil, "h.t.s", core.SourceHeader},
		{"empty header falls back to the cookie", map[string]string{core.HeaderName: ""},
			map[string]string{core.CookieName: "c.t.s"}, "c.t.s", core.SourceCookie},
		{"white-space header falls back to the cookie", map[string]string{core.HeaderName: " \t "},
			map[string]string{core.CookieName: "c.t.s"}, "c.t.s", core.SourceCookie},
		{"white-space header and no cookie", map[string]string{core.HeaderName: "  "}, nil, "", core.SourceNone},
		{"empty cookie", nil, map[string]string{core.CookieName: ""}, "", core.SourceNone},
		{"other headers and cookies are ignored", map[string]string{"Authorization": "Bearer x", "Cf-Access-Authenticated-User-Email": "ann@example.com"},
			map[string]string{"cf_authorization": "x", "CF_AUTHORIZATION": "y", "Authorization": "z"}, "", core.SourceNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, src := adapter.TokenFrom(fakeRequest{headers: tt.headers, cookies: tt.cookies})
			if tok != tt.wantToken || src != tt.wantSource {
				t.Fatalf("TokenFrom = %q, %v; want %q, %v", tok, src, tt.wantToken, tt.wantSource)
			}
		})
	}
}

func TestTokenSourceString(t *testing.T) {
	tests := []struct {
		src  core.TokenSource
		want string
	}{
		{core.SourceNone, "none"},
		{core.SourceHeader, "header"},
		{core.SourceCookie, "cookie"},
		{core.TokenSource(200), "none"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.src.String(); got != tt.want {
				t.Fatalf("TokenSource(%d).String() = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
	if core.SourceNone != 0 {
		t.Errorf("SourceNone = %d, want the zero value", core.SourceNone)
	}
	if core.HeaderName != "Cf-Access-Jwt-Assertion" || core.CookieName != "CF_Authorization" {
		t.Errorf("HeaderName, CookieName = %q, %q", core.HeaderName, core.CookieName)
	}
}

// rawHeader is a request's header lines as sent on the wire.
type rawHeader struct{ name, value string }

func TestTokenFromHTTPRequest(t *testing.T) {
	tests := []struct {
		name       string
		header     []rawHeader
		wantToken  string
		wantSource core.TokenSource
	}{
		{"nothing", nil, "", core.SourceNone},
		{"header", []rawHeader{{"Cf-Access-Jwt-Assertion", "h.t.s"}}, "h.t.s", core.SourceHeader},
		{"header in lower case", []rawHeader{{"cf-access-jwt-assertion", "h.t.s"}}, "h.t.s", core.SourceHeader},
		{"header with spaces", []rawHeader{{"Cf-Access-Jwt-Assertion", "  h.t.s  "}}, "h.t.s", core.SourceHeader},
		{"first of two headers", []rawHeader{{"Cf-Access-Jwt-Assertion", "one"}, {"Cf-Access-Jwt-Assertion", "two"}}, "one", core.SourceHeader},
		{"cookie", []rawHeader{{"Cookie", "CF_Authorization=c.t.s"}}, "c.t.s", core.SourceCookie},
		{"header wins over a valid-looking cookie", []rawHeader{
			{"Cookie", "CF_Authorization=" + validLooking}, {"Cf-Access-Jwt-Assertion", "not-a-jwt"},
		}, "not-a-jwt", core.SourceHeader},
		{"empty header falls back to the cookie", []rawHeader{
			{"Cf-Access-Jwt-Assertion", ""}, {"Cookie", "CF_Authorization=c.t.s"},
		}, "c.t.s", core.SourceCookie},
		{"white-space header falls back to the cookie", []rawHeader{
			{"Cf-Access-Jwt-Assertion", "   "}, {"Cookie", "CF_Authorization=c.t.s"},
		}, "c.t.s", core.SourceCookie},
		{"cookie name in lower case is ignored", []rawHeader{{"Cookie", "cf_authorization=c.t.s"}}, "", core.SourceNone},
		{"cookie name in upper case is ignored", []rawHeader{{"Cookie", "CF_AUTHORIZATION=c.t.s"}}, "", core.SourceNone},
		{"exact cookie found after a lower-case one", []rawHeader{{"Cookie", "cf_authorization=wrong; CF_Authorization=right"}}, "right", core.SourceCookie},
		{"several cookies in one header", []rawHeader{{"Cookie", "a=1; b=2; CF_Authorization=c.t.s; d=4"}}, "c.t.s", core.SourceCookie},
		{"several cookies without spaces", []rawHeader{{"Cookie", "a=1;CF_Authorization=c.t.s;d=4"}}, "c.t.s", core.SourceCookie},
		{"several Cookie headers", []rawHeader{{"Cookie", "a=1; b=2"}, {"Cookie", "c=3; CF_Authorization=c.t.s"}}, "c.t.s", core.SourceCookie},
		{"first of two cookies", []rawHeader{{"Cookie", "CF_Authorization=first; CF_Authorization=second"}}, "first", core.SourceCookie},
		{"first across Cookie headers", []rawHeader{{"Cookie", "CF_Authorization=first"}, {"Cookie", "CF_Authorization=second"}}, "first", core.SourceCookie},
		{"quoted cookie value", []rawHeader{{"Cookie", `CF_Authorization="c.t.s"`}}, "c.t.s", core.SourceCookie},
		{"cookie name as a prefix of another", []rawHeader{{"Cookie", "CF_AuthorizationX=x; XCF_Authorization=y"}}, "", core.SourceNone},
		{"other credentials are ignored", []rawHeader{
			{"Authorization", "Bearer " + validLooking}, {"Cf-Access-Authenticated-User-Email", "ann@example.com"},
		}, "", core.SourceNone},
	}

	// Over a request built by hand.
	t.Run("constructed", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r, err := http.NewRequest(http.MethodGet, "http://example.com/", nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range tt.header {
					r.Header.Add(h.name, h.value)
				}
				tok, src := adapter.TokenFrom(adapter.HTTPRequest(r))
				if tok != tt.wantToken || src != tt.wantSource {
					t.Fatalf("TokenFrom = %q, %v; want %q, %v", tok, src, tt.wantToken, tt.wantSource)
				}
			})
		}
	})

	// Over the request a real server hands its handler, after the header lines crossed a
	// loopback connection.
	t.Run("served", func(t *testing.T) {
		type result struct {
			tok string
			src core.TokenSource
		}
		got := make(chan result, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, src := adapter.TokenFrom(adapter.HTTPRequest(r))
			got <- result{tok, src}
		}))
		t.Cleanup(srv.Close)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r, err := http.NewRequest(http.MethodGet, srv.URL, nil)
				if err != nil {
					t.Fatal(err)
				}
				// Set header lines verbatim (not canonicalised), in order.
				r.Header = http.Header{}
				for _, h := range tt.header {
					r.Header[h.name] = append(r.Header[h.name], h.value)
				}
				resp, err := srv.Client().Do(r)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				res := <-got
				if res.tok != tt.wantToken || res.src != tt.wantSource {
					t.Fatalf("TokenFrom = %q, %v; want %q, %v", res.tok, res.src, tt.wantToken, tt.wantSource)
				}
			})
		}
	})
}

func TestHTTPRequestHeaderAndCookie(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Add("X-Multi", "first")
	r.Header.Add("X-Multi", "second")
	r.Header.Add("Cookie", "a=1; b=\"two\"")
	r.Header.Add("Cookie", "c=3")
	req := adapter.HTTPRequest(r)

	tests := []struct {
		name string
		get  func() string
		want string
	}{
		{"first header value", func() string { return req.Header("X-Multi") }, "first"},
		{"header name is case-insensitive", func() string { return req.Header("x-multi") }, "first"},
		{"absent header", func() string { return req.Header("X-Absent") }, ""},
		{"cookie", func() string { return req.Cookie("a") }, "1"},
		{"quoted cookie", func() string { return req.Cookie("b") }, "two"},
		{"cookie in the second Cookie header", func() string { return req.Cookie("c") }, "3"},
		{"cookie name is case-sensitive", func() string { return req.Cookie("A") }, ""},
		{"absent cookie", func() string { return req.Cookie("d") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.get(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCookieValue(t *testing.T) {
	const name = "CF_Authorization"
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"no headers", nil, ""},
		{"empty header", []string{""}, ""},
		{"only separators", []string{";;; ;"}, ""},
		{"only cookie", []string{"CF_Authorization=tok"}, "tok"},
		{"first of several", []string{"CF_Authorization=tok; a=1"}, "tok"},
		{"last of several", []string{"a=1; b=2; CF_Authorization=tok"}, "tok"},
		{"no space after semicolon", []string{"a=1;CF_Authorization=tok;b=2"}, "tok"},
		{"extra spaces and tabs", []string{"a=1 ;  \tCF_Authorization=tok \t; b=2"}, "tok"},
		{"empty parts", []string{";; CF_Authorization=tok;;"}, "tok"},
		{"second header", []string{"a=1", "CF_Authorization=tok"}, "tok"},
		{"first header wins", []string{"CF_Authorization=one", "CF_Authorization=two"}, "one"},
		{"first cookie wins", []string{"CF_Authorization=one; CF_Authorization=two"}, "one"},
		{"empty value is a value", []string{"CF_Authorization=; CF_Authorization=two"}, ""},
		{"name without value is skipped", []string{"CF_Authorization; CF_Authorization=tok"}, "tok"},
		{"lower-case name", []string{"cf_authorization=tok"}, ""},
		{"upper-case name", []string{"CF_AUTHORIZATION=tok"}, ""},
		{"name as prefix", []string{"CF_Authorization2=tok"}, ""},
		{"name as suffix", []string{"XCF_Authorization=tok"}, ""},
		{"name in a value", []string{"a=CF_Authorization=tok"}, ""},
		{"value with equals signs", []string{"CF_Authorization=a=b=="}, "a=b=="},
		{"value with dots and dashes", []string{"CF_Authorization=eyJ.a-b_c.d"}, "eyJ.a-b_c.d"},
		{"quoted value", []string{`CF_Authorization="tok"`}, "tok"},
		{"quoted empty value", []string{`CF_Authorization=""`}, ""},
		{"single quote character", []string{`CF_Authorization="`}, `"`},
		{"opening quote only", []string{`CF_Authorization="tok`}, `"tok`},
		{"closing quote only", []string{`CF_Authorization=tok"`}, `tok"`},
		{"quoted value among others", []string{`a="1"; CF_Authorization="tok"; b=2`}, "tok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := adapter.CookieValue(tt.headers, name); got != tt.want {
				t.Fatalf("CookieValue(%q) = %q, want %q", tt.headers, got, tt.want)
			}
		})
	}
}

// CookieValue must agree with net/http on the well-formed cookies both read.
func TestCookieValueAgreesWithNetHTTP(t *testing.T) {
	lines := [][]string{
		{"CF_Authorization=tok"},
		{"a=1; CF_Authorization=tok; b=2"},
		{"a=1", "CF_Authorization=tok"},
		{`CF_Authorization="tok"`},
		{"CF_Authorization=one; CF_Authorization=two"},
		{"cf_authorization=tok"},
		{"CF_Authorization=a=b"},
	}
	for _, l := range lines {
		t.Run(l[0], func(t *testing.T) {
			r := &http.Request{Header: http.Header{"Cookie": l}}
			want := ""
			if c, err := r.Cookie(core.CookieName); err == nil {
				want = c.Value
			}
			if got := adapter.CookieValue(l, core.CookieName); got != want {
				t.Fatalf("CookieValue = %q, net/http says %q", got, want)
			}
		})
	}
}

func TestTokenFromAllocatesNothing(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   core.TokenSource
	}{
		{"header", http.Header{textproto.CanonicalMIMEHeaderKey(core.HeaderName): {"h.t.s"}}, core.SourceHeader},
		{"cookie", http.Header{"Cookie": {"a=1; b=2", `x=y; CF_Authorization="c.t.s"`}}, core.SourceCookie},
		{"white-space header and cookie", http.Header{
			core.HeaderName: {"  "}, "Cookie": {"CF_Authorization=c.t.s"},
		}, core.SourceCookie},
		{"nothing", http.Header{"Cookie": {"a=1"}}, core.SourceNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = tt.header
			var src core.TokenSource
			allocs := testing.AllocsPerRun(100, func() {
				_, src = adapter.TokenFrom(adapter.HTTPRequest(r))
			})
			if src != tt.want {
				t.Fatalf("source = %v, want %v", src, tt.want)
			}
			if allocs != 0 {
				t.Fatalf("HTTPRequest + TokenFrom allocated %v times per call, want 0", allocs)
			}
		})
	}
}

// TestHTTPRequestAsSent: the method, host and URI are those of the request as the client
// sent it, over the wire and in a request built by hand alike.
func TestHTTPRequestAsSent(t *testing.T) {
	type seen struct{ method, host, uri string }
	got := make(chan seen, 1)
	u := testkit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := adapter.HTTPRequest(r)
		got <- seen{req.Method(), req.Host(), req.URI()}
	}))
	testkit.Send(t, "DELETE", u+"/a%20b/c?x=1&y=%2F", "App.Example.com:8443", map[string]string{"X-Forwarded-Host": "evil.example"})
	if s := <-got; s != (seen{"DELETE", "App.Example.com:8443", "/a%20b/c?x=1&y=%2F"}) {
		t.Errorf("served: %+v", s)
	}

	r := httptest.NewRequest("POST", "http://app.example.com/p%3Fq?z=1", nil)
	r.RequestURI = "" // as a request built by a client or a test, not read from the wire
	req := adapter.HTTPRequest(r)
	if s := (seen{req.Method(), req.Host(), req.URI()}); s != (seen{"POST", "app.example.com", "/p%3Fq?z=1"}) {
		t.Errorf("constructed: %+v", s)
	}
}
