// Command throughput measures, over HTTP on loopback and in one run, how many requests per
// second each example server answers on /healthz (no authentication) and on /whoami (a
// verified token, the same one every time, as a browser session sends it), and the same for
// a go-oidc server verifying the token on every request. It builds the servers, starts a
// fake team domain, runs every server against it, and drives each route in turn with the
// same keep-alive load, several rounds interleaved, reporting medians.
//
// The load comes from wrk when it is installed (Debian: apt-get install wrk), which leaves
// the servers most of the CPU; otherwise from a Go client in this process, which takes a
// larger share and so narrows the differences between servers.
//
//	go run ./internal/bench/cmd/throughput            # from the repository root
//	go run ./internal/bench/cmd/throughput -d 10s -rounds 5 -c 64 -load go
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cfaccess/cfaccess/core/accesstest"
)

var (
	duration = flag.Duration("d", 5*time.Second, "how long each route is driven per round")
	conns    = flag.Int("c", 32, "concurrent keep-alive connections")
	rounds   = flag.Int("rounds", 3, "rounds; each drives every route once, the report gives medians")
	load     = flag.String("load", "", `load generator, "wrk" or "go" (default: wrk if installed)`)
)

// server is one program under test: a path to build and a name.
type server struct {
	name, pkg string
	base      string
	cmd       *exec.Cmd
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	servers := []*server{
		{name: "chi", pkg: "./examples/chi"}, {name: "echo", pkg: "./examples/echo"},
		{name: "echo5", pkg: "./examples/echo5"}, {name: "fiber", pkg: "./examples/fiber"},
		{name: "fiber2", pkg: "./examples/fiber2"}, {name: "gin", pkg: "./examples/gin"},
		{name: "go-oidc", pkg: "./internal/bench/cmd/oidcserver"},
	}
	dir, err := os.MkdirTemp("", "cfaccess-throughput")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, s := range servers {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, s.name), s.pkg).CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", s.pkg, err, out)
		}
	}

	team := accesstest.NewServer()
	defer team.Close()
	token := team.Mint(accesstest.Token{Email: "ann.smith@example.com", Groups: []string{"admins"}, Country: "US", ExpiresAt: time.Now().Add(24 * time.Hour)})
	for _, s := range servers {
		if err := s.start(filepath.Join(dir, s.name), team); err != nil {
			return err
		}
		defer s.stop()
	}

	type target struct {
		server *server
		route  string
		rates  []float64
	}
	var targets []*target
	for _, s := range servers {
		for _, route := range []string{"/healthz", "/whoami"} {
			targets = append(targets, &target{server: s, route: route})
		}
	}
	if *load == "" {
		*load = "go"
		if _, err := exec.LookPath("wrk"); err == nil {
			*load = "wrk"
		}
	}
	drive := driveGo
	if *load == "wrk" {
		drive = driveWrk
	}
	fmt.Printf("%s, %d CPUs; load from %s, %d connections, %s per route, %d rounds\n", runtime.GOARCH, runtime.NumCPU(), *load, *conns, *duration, *rounds)
	for _, t := range targets { // warm up: keys loaded, first verification cached
		if _, err := drive(t.server.base+t.route, token, 200*time.Millisecond); err != nil {
			return fmt.Errorf("%s%s: %w", t.server.name, t.route, err)
		}
	}
	for r := range *rounds {
		order := slices.Clone(targets)
		if r%2 == 1 {
			slices.Reverse(order) // no route always runs on a warmer or cooler machine
		}
		for _, t := range order {
			rate, err := drive(t.server.base+t.route, token, *duration)
			if err != nil {
				return fmt.Errorf("%s%s: %w", t.server.name, t.route, err)
			}
			t.rates = append(t.rates, rate)
		}
	}

	median := func(t *target) float64 {
		s := slices.Clone(t.rates)
		slices.Sort(s)
		return s[len(s)/2]
	}
	find := func(name, route string) float64 {
		for _, t := range targets {
			if t.server.name == name && t.route == route {
				return median(t)
			}
		}
		return 0
	}
	oidc := find("go-oidc", "/whoami")
	fmt.Printf("\n%-8s %14s %14s %16s %16s\n", "server", "/healthz req/s", "/whoami req/s", "whoami/healthz", "whoami/go-oidc")
	for _, s := range servers {
		h, w := find(s.name, "/healthz"), find(s.name, "/whoami")
		fmt.Printf("%-8s %14.0f %14.0f %16.2f %16.2f\n", s.name, h, w, w/h, w/oidc)
	}
	return nil
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

func (s *server) start(bin string, team *accesstest.Server) error {
	s.cmd = exec.Command(bin)
	s.cmd.Env = append(os.Environ(), "CF_ACCESS_TEAM_DOMAIN="+team.URL, "CF_ACCESS_AUD="+team.AUD, "ADDR=127.0.0.1:0")
	s.cmd.Stderr = io.Discard
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case s.base = <-found:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s never said it was listening", s.name)
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

var wrkRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// driveWrk is driveGo with wrk, one thread, which leaves the servers the other CPUs.
func driveWrk(url, token string, d time.Duration) (float64, error) {
	out, err := exec.Command("wrk", "-t1", fmt.Sprintf("-c%d", *conns), fmt.Sprintf("-d%ds", max(1, int(d.Seconds()))),
		"-H", "Cf-Access-Jwt-Assertion: "+token, url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Non-2xx") || strings.Contains(string(out), "Socket errors") {
		return 0, fmt.Errorf("wrk saw failures:\n%s", out)
	}
	m := wrkRate.FindStringSubmatch(string(out))
	if m == nil {
		return 0, fmt.Errorf("no rate in wrk's output:\n%s", out)
	}
	var rate float64
	_, err = fmt.Sscan(m[1], &rate)
	return rate, err
}

// driveGo sends GET url with the token from *conns goroutines over keep-alive connections
// for d, and returns the completed requests per second. Any answer but 200 is an error: a
// fast refusal must not pass for throughput.
func driveGo(url, token string, d time.Duration) (float64, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var done atomic.Int64
	var failure atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range *conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
				req.Header.Set("Cf-Access-Jwt-Assertion", token)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failure.Store(err)
					}
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failure.Store(fmt.Errorf("status %d", resp.StatusCode))
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := failure.Load().(error); err != nil {
		return 0, err
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}
