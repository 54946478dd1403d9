package conformance

import (
	"reflect"
	"testing"

	"github.com/cfaccess/cfaccess/core"
)

// OptionCase is one of an adapter's option constructors, and where its result may be passed.
type OptionCase struct {
	Name       string
	Func       any  // the constructor, e.g. ginaccess.WithSkipper
	Middleware bool // its result is accepted by Middleware
	Require    bool // its result is accepted by Require and RequireGroups
}

// CheckOptions checks what the compiler will accept: a value is accepted by a parameter of
// interface type when its static type implements that interface. middleware and require are
// the adapter's Option and RequireOption types. An option that cannot apply somewhere must
// not be accepted there (where it would be silently ignored), and core's own guard and
// requirement options, which share a purpose with the adapters' With… options, are accepted
// by neither.
func CheckOptions(t *testing.T, middleware, require reflect.Type, cases []OptionCase) {
	t.Helper()
	for _, c := range cases {
		fn := reflect.TypeOf(c.Func)
		if fn.Kind() != reflect.Func || fn.NumOut() != 1 {
			t.Errorf("%s is not an option constructor: %s", c.Name, fn)
			continue
		}
		out := fn.Out(0)
		if got := out.Implements(middleware); got != c.Middleware {
			t.Errorf("%s returns %s: accepted by Middleware = %v, want %v", c.Name, out, got, c.Middleware)
		}
		if got := out.Implements(require); got != c.Require {
			t.Errorf("%s returns %s: accepted by Require = %v, want %v", c.Name, out, got, c.Require)
		}
	}
	for _, core := range []reflect.Type{reflect.TypeFor[core.GuardOption](), reflect.TypeFor[core.RequirementOption]()} {
		if core.Implements(middleware) || core.Implements(require) {
			t.Errorf("%s is accepted by the adapter's Middleware or Require", core)
		}
	}
}
