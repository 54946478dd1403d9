package otelaccess

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/adapter"
)

// The paths of the team domain that a Verifier calls.
const (
	certsPath    = "/cdn-cgi/access/certs"
	identityPath = "/cdn-cgi/access/get-identity"
)

// Semantic-convention attribute keys of HTTP client spans.
const (
	keyMethod     = attribute.Key("http.request.method")
	keyStatusCode = attribute.Key("http.response.status_code")
	keyServerAddr = attribute.Key("server.address")
	keyServerPort = attribute.Key("server.port")
	keyURLFull    = attribute.Key("url.full")
	keyURLTmpl    = attribute.Key("url.template")
	keyErrorType  = attribute.Key("error.type")
)

// Transport returns an http.RoundTripper over base (nil: http.DefaultTransport) that
// measures each call to the team domain and traces it, for the HTTPClient of a
// core.Config:
//
//	cfg.HTTPClient = &http.Client{Transport: t.Transport(nil)}
//
// Each call is recorded in cfaccess.team.request.duration, by endpoint ("certs",
// "get_identity", or "other" for any other path, such as a redirect's) and status class,
// and gets a client span named after its method and endpoint ("GET
// /cdn-cgi/access/certs"), a child of the request's span when there is one: key fetches,
// which run in the background, start traces of their own. A call lasts until its answer is
// read or closed. The token that get-identity is sent in a cookie is never recorded, nor is
// any header; with WithTokenID, get-identity spans carry the token's core.TokenID. No trace
// context is sent to the team domain.
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{t: t, base: base}
}

type transport struct {
	t    *Telemetry
	base http.RoundTripper
}

// endpoint is a path of the team domain, as attributes name it.
type endpoint struct {
	name     string // the value of cfaccess.endpoint
	template string // url.template; "" for other paths
}

var (
	certsEndpoint    = endpoint{name: "certs", template: certsPath}
	identityEndpoint = endpoint{name: "get_identity", template: identityPath}
	otherEndpoint    = endpoint{name: "other"}
)

func endpointOf(path string) endpoint {
	switch path {
	case certsPath:
		return certsEndpoint
	case identityPath:
		return identityEndpoint
	}
	return otherEndpoint
}

// methods are those that a span name or attribute may carry; any other is Other.
var methods = set(http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace)

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	ep := endpointOf(req.URL.Path)
	method := known(methods, req.Method)
	name := method
	if ep.template != "" {
		name += " " + ep.template
	}
	kvs := []attribute.KeyValue{
		keyMethod.String(method),
		KeyEndpoint.String(ep.name),
		keyServerAddr.String(req.URL.Hostname()),
		// The origin and path only: a query or user information has no place in a span.
		keyURLFull.String(req.URL.Scheme + "://" + req.URL.Host + req.URL.EscapedPath()),
	}
	if port, err := strconv.Atoi(req.URL.Port()); err == nil {
		kvs = append(kvs, keyServerPort.Int(port))
	}
	if ep.template != "" {
		kvs = append(kvs, keyURLTmpl.String(ep.template))
	}
	if tr.t.tokenID && ep == identityEndpoint {
		if tok := adapter.CookieValue(req.Header["Cookie"], core.CookieName); tok != "" {
			kvs = append(kvs, KeyTokenID.String(core.TokenID(tok)))
		}
	}
	ctx, span := tr.t.tracer.Start(req.Context(), name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(kvs...))
	c := &call{t: tr.t, ctx: ctx, span: span, ep: ep, start: start}

	resp, err := tr.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		c.end(0, err)
		return nil, err
	}
	c.status = resp.StatusCode
	span.SetAttributes(keyStatusCode.Int(resp.StatusCode))
	if resp.Body == nil || resp.Body == http.NoBody {
		c.end(resp.StatusCode, nil)
		return resp, nil
	}
	resp.Body = &body{ReadCloser: resp.Body, c: c}
	return resp, nil
}

// call is one call to the team domain, which ends when its answer is read or closed.
type call struct {
	t      *Telemetry
	ctx    context.Context
	span   trace.Span
	ep     endpoint
	start  time.Time
	status int
	once   sync.Once
}

// end records the call: status is the answer's (0 for none), err why it failed, if it did.
func (c *call) end(status int, err error) {
	c.once.Do(func() {
		class := "error"
		switch {
		case err != nil:
			c.span.SetAttributes(keyErrorType.String(errorType(err)))
			c.span.SetStatus(codes.Error, err.Error())
		case status >= 400:
			c.span.SetAttributes(keyErrorType.String(strconv.Itoa(status)))
			c.span.SetStatus(codes.Error, "")
			fallthrough
		default:
			class = statusClass(status)
		}
		c.t.requestSeconds.Record(c.ctx, time.Since(c.start).Seconds(), requestSet(c.ep, class))
		c.span.End()
	})
}

// body is the answer of a call, which ends the call at its end, at its first error, or
// when it is closed.
type body struct {
	io.ReadCloser
	c *call
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.c.end(b.c.status, nil)
	case err != nil:
		b.c.end(b.c.status, err)
	}
	return n, err
}

func (b *body) Close() error {
	err := b.ReadCloser.Close()
	b.c.end(b.c.status, nil)
	return err
}

// statusClass returns "1xx" … "5xx", or "error" for a status that is none of them.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "error"
	}
	return strconv.Itoa(status/100) + "xx"
}

// errorType names the kind of a failed call for error.type: "timeout", "canceled", or the
// error's Go type.
func errorType(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return fmt.Sprintf("%T", err)
}

// requestSets are the attribute sets of cfaccess.team.request.duration, by endpoint and
// status class: at most 3 × 6.
var requestSets sync.Map

func requestSet(ep endpoint, class string) metric.RecordOption {
	type key struct{ endpoint, class string }
	k := key{ep.name, class}
	if o, ok := requestSets.Load(k); ok {
		return o.(metric.RecordOption)
	}
	o, _ := requestSets.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(KeyEndpoint.String(ep.name), KeyStatusClass.String(class))))
	return o.(metric.RecordOption)
}
