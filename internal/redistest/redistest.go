// Package redistest starts a real redis-server for the repository's tests: on a free
// loopback port, in a temporary directory of its own, with no persistence, stopped when the
// test ends.
//
// Where redis-server is not installed the tests that need it are skipped, saying so, unless
// CFACCESS_REQUIRE_REDIS is set (as CI sets it), which makes them fail instead: a machine
// that should run them cannot skip them unnoticed.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing redis-server from a skip
// into a failure.
const RequireEnv = "CFACCESS_REQUIRE_REDIS"

// Server is a running redis-server.
type Server struct {
	Addr string // host:port on loopback
	URL  string // redis://host:port/0

	cmd     *exec.Cmd
	exited  chan struct{}
	stopped sync.Once
}

// Start starts a redis-server that stops when t ends. It skips t, or fails it when
// CFACCESS_REQUIRE_REDIS is set, if there is no redis-server on PATH.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("redis-server is not installed, and %s is set: install it (apt-get install -y redis-server)", RequireEnv)
		}
		t.Skipf("SKIPPED: redis-server is not installed, so this test of the Redis identity store did not run (apt-get install -y redis-server; set %s=1 to make this a failure)", RequireEnv)
	}
	var last error
	for range 5 { // a free port found may be taken before the server binds it
		s, err := start(t, bin)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		last = err
	}
	t.Fatalf("starting redis-server: %v", last)
	return nil
}

func start(t testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", t.TempDir(), "--save", "", "--appendonly", "no",
		"--loglevel", "warning", "--logfile", "",
	}
	if major(bin) >= 7 { // DEBUG, which the tests use to make the server hang, is off by default since 7
		args = append(args, "--enable-debug-command", "local")
	}
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, exited: make(chan struct{})}
	s.URL = "redis://" + s.Addr + "/0"
	go func() { _ = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(s.Addr) == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("redis-server exited: %s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("redis-server did not answer PING within 10s: %s", out.String())
		}
	}
}

// Stop kills the server, as a crash would, and waits for it to exit. Clients' connections
// break; new ones are refused.
func (s *Server) Stop() {
	s.stopped.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ping sends PING in the inline protocol and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

var version = regexp.MustCompile(`v=(\d+)\.`)

// major returns the major version of the redis-server at bin, 0 when unknown.
func major(bin string) int {
	out, _ := exec.Command(bin, "--version").Output()
	m := version.FindSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
