package adapter_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
)

// TestMaxHeaderBytesFitsWhatAccessSends: a request as Access forwards it, with a token of the
// largest size the verifier reads in the header and again in the cookie, beside a browser's
// usual headers and a few KB of the application's own cookies, fits, with room to spare.
func TestMaxHeaderBytesFitsWhatAccessSends(t *testing.T) {
	for _, size := range []int{0, 4 << 10, core.DefaultMaxTokenSize, 64 << 10} {
		n := size
		if n == 0 {
			n = core.DefaultMaxTokenSize
		}
		token := strings.Repeat("a", n)
		var req strings.Builder
		req.WriteString("GET /reports/2026/q3?team=platform&view=summary HTTP/1.1\r\nHost: app.example.com\r\n")
		req.WriteString("User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n")
		req.WriteString("Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-GB,en;q=0.9\r\n")
		req.WriteString("Cf-Connecting-Ip: 203.0.113.7\r\nCf-Ray: 8f1c9a0e7b2d4c6f-LHR\r\nCf-Ipcountry: GB\r\nX-Forwarded-For: 203.0.113.7\r\n")
		req.WriteString("Cf-Access-Authenticated-User-Email: ann@example.com\r\n")
		req.WriteString(core.HeaderName + ": " + token + "\r\n")
		req.WriteString("Cookie: " + core.CookieName + "=" + token + "; session=" + strings.Repeat("s", 4<<10) + "; _ga=GA1.1.1180465126.1714033531\r\n\r\n")
		if got, limit := req.Len(), adapter.MaxHeaderBytes(size); got > limit-4<<10 {
			t.Errorf("Tokens.MaxSize %d: a request of %d bytes leaves less than 4 KiB of MaxHeaderBytes = %d", size, got, limit)
		}
	}
}

func ExampleMaxHeaderBytes() {
	fmt.Println(adapter.MaxHeaderBytes(0))       // Config.Tokens.MaxSize left at its default, 16 KiB
	fmt.Println(adapter.MaxHeaderBytes(8 << 10)) // tokens known to be small
	// Output:
	// 49152
	// 32768
}

func TestMaxHeaderBytes(t *testing.T) {
	for _, tc := range []struct{ size, want int }{
		{0, 2*core.DefaultMaxTokenSize + adapter.HeaderAllowance},
		{-1, 2*core.DefaultMaxTokenSize + adapter.HeaderAllowance},
		{1000, 2000 + adapter.HeaderAllowance},
	} {
		if got := adapter.MaxHeaderBytes(tc.size); got != tc.want {
			t.Errorf("MaxHeaderBytes(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}
