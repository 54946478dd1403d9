package redistest_test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/internal/redistest"
)

func TestStartAndStop(t *testing.T) {
	srv := redistest.Start(t)
	if got := command(t, srv.Addr, "PING"); got != "+PONG" {
		t.Fatalf("PING: %q", got)
	}
	if got := command(t, srv.Addr, "CONFIG GET save"); got != "*2" {
		t.Errorf("CONFIG GET save: %q", got)
	}
	if !strings.HasPrefix(srv.URL, "redis://127.0.0.1:") {
		t.Errorf("URL %q", srv.URL)
	}
	srv.Stop()
	if c, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		c.Close()
		t.Error("the server still accepts connections after Stop")
	}
	srv.Stop() // twice is harmless
}

// command sends an inline command and returns the first line of the answer.
func command(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(line, "\r\n")
}

// TestWithoutRedis: with no redis-server on PATH, a test that needs one is skipped, saying
// so, unless CFACCESS_REQUIRE_REDIS is set, which makes it fail.
func TestWithoutRedis(t *testing.T) {
	if os.Getenv("REDISTEST_CHILD") != "" {
		redistest.Start(t)
		t.Fatal("Start returned without a redis-server")
	}
	for _, tc := range []struct {
		require string
		want    string
		fails   bool
	}{
		{"", "SKIPPED: redis-server is not installed", false},
		{"1", "redis-server is not installed, and CFACCESS_REQUIRE_REDIS is set", true},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWithoutRedis$", "-test.v")
		cmd.Env = append(os.Environ(), "REDISTEST_CHILD=1", "PATH="+t.TempDir(), redistest.RequireEnv+"="+tc.require)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fails || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s=%q: err %v, output:\n%s", redistest.RequireEnv, tc.require, err, out)
		}
	}
}
