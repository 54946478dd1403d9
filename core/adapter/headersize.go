package adapter

import "github.com/cfaccess/cfaccess/core"

// HeaderAllowance is the room MaxHeaderBytes leaves for a request's line, its other headers
// and the application's own cookies, beside the Access token.
const HeaderAllowance = 16 << 10

// MaxHeaderBytes returns how large a request's header section a server must accept for the
// requests that Access sends, tokens of up to maxTokenSize bytes (Config.Tokens.MaxSize;
// zero or less means core.DefaultMaxTokenSize): Access sends the token twice, as the
// Cf-Access-Jwt-Assertion header and as the CF_Authorization cookie, so
//
//	MaxHeaderBytes(n) = 2*n + HeaderAllowance    // 48 KiB for the default 16 KiB
//
// A token is a few hundred bytes, or a few KB when the identity provider passes SAML
// attributes or OIDC claims: a server that accepts less answers such requests itself,
// before any middleware runs (fiber's default 4 KiB read buffer answers 431). net/http
// accepts 1 MiB (http.DefaultMaxHeaderBytes) and needs nothing.
func MaxHeaderBytes(maxTokenSize int) int {
	if maxTokenSize <= 0 {
		maxTokenSize = core.DefaultMaxTokenSize
	}
	return 2*maxTokenSize + HeaderAllowance
}
