package conformance

import (
	"reflect"
	"testing"

	"github.com/cfaccess/cfaccess/core/adapter"
)

// Options are an adapter's option constructors, e.g. ginaccess.WithSkipper, for CheckOptions.
type Options struct {
	WithSkipper, WithLoginRedirect, WithOptionalAuth any // for Middleware only
	WithErrorHandler, WithObserver                   any // for Middleware and Require
}

// CheckOptions checks what the compiler will accept of an adapter's options: a value is
// accepted by a parameter of interface type when its static type implements that interface.
// Option and RequireOption are the adapter's types of Middleware's and Require's options. An
// option that cannot apply somewhere must not be accepted there (where it would be silently
// ignored), and package adapter's options, which share a purpose and names with the
// adapters' With… options, are accepted by neither.
func CheckOptions[Option, RequireOption any](t *testing.T, o Options) {
	t.Helper()
	middleware, require := reflect.TypeFor[Option](), reflect.TypeFor[RequireOption]()
	if middleware.Kind() != reflect.Interface || require.Kind() != reflect.Interface {
		t.Fatalf("CheckOptions[%s, %s]: the adapter's option types are interfaces", middleware, require)
	}
	for _, c := range []struct {
		name             string
		fn               any
		middleware, both bool
	}{
		{"WithSkipper", o.WithSkipper, true, false},
		{"WithLoginRedirect", o.WithLoginRedirect, true, false},
		{"WithOptionalAuth", o.WithOptionalAuth, true, false},
		{"WithErrorHandler", o.WithErrorHandler, true, true},
		{"WithObserver", o.WithObserver, true, true},
	} {
		fn := reflect.TypeOf(c.fn)
		if fn == nil || fn.Kind() != reflect.Func || fn.NumOut() != 1 {
			t.Errorf("%s is not an option constructor: %v", c.name, fn)
			continue
		}
		out := fn.Out(0)
		if got := out.Implements(middleware); got != c.middleware {
			t.Errorf("%s returns %s: accepted by Middleware = %v, want %v", c.name, out, got, c.middleware)
		}
		if got := out.Implements(require); got != c.both {
			t.Errorf("%s returns %s: accepted by Require = %v, want %v", c.name, out, got, c.both)
		}
	}
	for _, a := range []reflect.Type{reflect.TypeFor[adapter.Option](), reflect.TypeFor[adapter.RequirementOption](), reflect.TypeFor[adapter.SharedOption]()} {
		if a.Implements(middleware) || a.Implements(require) {
			t.Errorf("%s is accepted by the adapter's Middleware or Require", a)
		}
	}
}
