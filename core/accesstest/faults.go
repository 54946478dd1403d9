package accesstest

import (
	"bytes"
	"net"
	"net/http"
	"strings"
	"time"
)

// Fault is a way for an endpoint of the fake team domain to misbehave.
type Fault int

const (
	Healthy      Fault = iota // answer normally
	Status500                 // 500 Internal Server Error
	Status404                 // 404 Not Found
	Garbage                   // 200 with a body that is not JSON
	Truncated                 // 200 with the first half of the real body
	Huge                      // 200 with valid JSON of 2 MiB
	Hang                      // never answer, until the client gives up or the server closes
	SlowDrip                  // 200, then one byte of the real body every 100 ms
	Reset                     // close the connection without answering
	RedirectAway              // 302 to the same path on another origin (localhost instead of 127.0.0.1), which answers normally
	Held                      // hold each request until the endpoint is set to another Fault, then answer as that says
)

// redirectedParam marks a request that RedirectAway sent away, so that it is answered.
const redirectedParam = "accesstest-redirected"

// FailCerts makes /cdn-cgi/access/certs misbehave until told Healthy again.
func (s *Server) FailCerts(f Fault) { s.setFault(certsEndpoint, f) }

// FailIdentity makes /cdn-cgi/access/get-identity misbehave until told Healthy again.
func (s *Server) FailIdentity(f Fault) { s.setFault(identityEndpoint, f) }

// hold is one spell of the Held fault: the requests it holds answer as `to` says once
// released, whatever the endpoint is set to afterwards.
type hold struct {
	released chan struct{}
	to       Fault
}

func (s *Server) setFault(e endpoint, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults[e] == Held && f != Held {
		s.held[e].to = f
		close(s.held[e].released)
	}
	if f == Held && s.faults[e] != Held {
		s.held[e] = &hold{released: make(chan struct{})}
	}
	s.faults[e] = f
}

// serve writes body with status, or the endpoint's fault instead.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, e endpoint, status int, body []byte) {
	s.mu.Lock()
	f, spell := s.faults[e], s.held[e]
	s.mu.Unlock()
	if f == Held {
		select {
		case <-spell.released:
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
		f = spell.to // written before released was closed
	}
	if r.URL.Query().Has(redirectedParam) {
		f = Healthy
	}

	h := w.Header()
	switch f {
	case Status500:
		http.Error(w, "internal error", http.StatusInternalServerError)
	case Status404:
		http.NotFound(w, r)
	case Garbage:
		h.Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("<html>this is not the JSON you are looking for</html>"))
	case Truncated:
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(body[:len(body)/2])
	case Huge:
		h.Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[],"padding":"`))
		_, _ = w.Write(bytes.Repeat([]byte("x"), 2<<20))
		_, _ = w.Write([]byte(`"}`))
	case Hang:
		s.wait(r, 0)
	case SlowDrip:
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		for _, c := range body {
			if _, err := w.Write([]byte{c}); err != nil || !s.wait(r, 100*time.Millisecond) {
				return
			}
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
		}
	case Reset:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST rather than FIN
				}
				_ = conn.Close()
			}
		}
	case RedirectAway:
		away := strings.Replace(s.URL, "127.0.0.1", "localhost", 1) + r.URL.Path + "?" + redirectedParam
		http.Redirect(w, r, away, http.StatusFound)
	default:
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// wait blocks for d (forever when d is 0) and reports whether the request is still wanted.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-r.Context().Done():
	case <-s.closing:
	}
	return false
}
