package inspect_test

import (
	"testing"

	"github.com/cfaccess/cfaccess/cmd/cfaccess/internal/inspect"
)

const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"

func TestExtractToken(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"bare", jwt, jwt},
		{"surrounding space", "\n  " + jwt + "  \n", jwt},
		{"quoted", `"` + jwt + `"`, jwt},
		{"single-quoted", `'` + jwt + `'`, jwt},
		{"header line", "Cf-Access-Jwt-Assertion: " + jwt, jwt},
		{"header line, any case", "cf-access-jwt-assertion:" + jwt, jwt},
		{"cloudflared header", "cf-access-token: " + jwt, jwt},
		{"cookie line", "Cookie: a=1; CF_Authorization=" + jwt + "; b=2", jwt},
		{"cookie line, quoted value", `Cookie: CF_Authorization="` + jwt + `"`, jwt},
		{"bare cookie string", "theme=dark; CF_Authorization=" + jwt, jwt},
		{"set-cookie line", "Set-Cookie: CF_Authorization=" + jwt + "; Path=/; HttpOnly; Secure", jwt},
		{"bearer", "Authorization: Bearer " + jwt, jwt},
		{"curl -v", "> GET /whoami HTTP/1.1\n> Host: app.example.com\n> User-Agent: curl/8.5.0\n> Cf-Access-Jwt-Assertion: " + jwt + "\n>", jwt},
		{"devtools headers", "accept: text/html\ncookie: CF_Authorization=" + jwt + "\nuser-agent: Mozilla/5.0", jwt},
		{"header wins over later lines", "Cf-Access-Jwt-Assertion: " + jwt + "\nCookie: CF_Authorization=other.other.other", jwt},
		{"CRLF", "Cookie: CF_Authorization=" + jwt + "\r\n", jwt},
		{"a token among lines", "here it is:\n" + jwt + "\nthanks", jwt},
		// A single line that is no token is returned, to be refused for what it is.
		{"garbage", "hello", "hello"},
		{"garbage with a colon", "foo: bar", "foo: bar"},
		{"two segments", "eyJhIjoxfQ.eyJhIjoxfQ", "eyJhIjoxfQ.eyJhIjoxfQ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inspect.ExtractToken(tc.in)
			if err != nil {
				t.Fatalf("ExtractToken(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ExtractToken(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestExtractTokenNone(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"blank", " \n\t\n"},
		{"cookie without CF_Authorization", "Cookie: a=1; cf_authorization=" + jwt},
		{"lines without a token", "GET / HTTP/1.1\nHost: example.com\nAccept: */*"},
		{"empty header value", "Cf-Access-Jwt-Assertion:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inspect.ExtractToken(tc.in)
			if !inspect.IsNoToken(err) {
				t.Fatalf("ExtractToken(%q) = %q, %v; want a no-token error", tc.in, got, err)
			}
		})
	}
}
