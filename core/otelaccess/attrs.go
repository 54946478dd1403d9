package otelaccess

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/cfaccess/cfaccess/core"
)

// The values that attributes may take: those core defines. Anything else becomes Other.
var (
	outcomeSet = set(core.OutcomeAllowed, core.OutcomeAnonymous, core.OutcomeDenied, core.OutcomeRedirected)
	codeSet    = set(core.CodeMissingToken, core.CodeInvalidToken, core.CodeForbidden, core.CodeUnavailable, core.CodeMisconfigured)
	reasonSet  = set(
		core.ReasonNoCaller,
		core.ReasonMalformed, core.ReasonTooLarge, core.ReasonHeaderTooLarge, core.ReasonAlgorithm,
		core.ReasonNoKeyID, core.ReasonUnknownKey, core.ReasonSignature, core.ReasonExpired,
		core.ReasonNotYetValid, core.ReasonIssuedInFuture, core.ReasonIssuer, core.ReasonAudience,
		core.ReasonMissingClaim, core.ReasonCritical, core.ReasonTokenType, core.ReasonHostAudience,
		core.ReasonUnboundHost, core.ReasonIdentityRefused,
		core.ReasonPolicy, core.ReasonServiceToken,
		core.ReasonKeysUnavailable, core.ReasonIdentityUnavailable, core.ReasonPolicyError, core.ReasonUnknownKeyPending,
		core.ReasonNoMiddleware, core.ReasonInvalidPolicy, core.ReasonNoVerifier,
	)
)

func set[T ~string](vs ...T) map[T]struct{} {
	m := make(map[T]struct{}, len(vs))
	for _, v := range vs {
		m[v] = struct{}{}
	}
	return m
}

// known returns v when it is empty or in the set, else Other.
func known[T ~string](set map[T]struct{}, v T) string {
	if _, ok := set[v]; ok || v == "" {
		return string(v)
	}
	return Other
}

// decisionKey is what a decision's attributes are made of; a zero reason with withReason
// false stands for no reason attribute at all.
type decisionKey struct {
	outcome, code, reason string
	withReason            bool
}

// attrOptions are the measurement options of one decisionKey, as the variadic lists that Add
// and Record take: passed whole, they cost a measurement no allocation.
type attrOptions struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

// attributeSet returns the measurement options of k from cache, making them the first time.
func attributeSet(cache *sync.Map, k decisionKey) *attrOptions {
	if o, ok := cache.Load(k); ok {
		return o.(*attrOptions)
	}
	kvs := []attribute.KeyValue{KeyOutcome.String(k.outcome), KeyCode.String(k.code)}
	if k.withReason {
		kvs = append(kvs, KeyReason.String(k.reason))
	}
	set := metric.WithAttributeSet(attribute.NewSet(kvs...))
	o, _ := cache.LoadOrStore(k, &attrOptions{add: []metric.AddOption{set}, record: []metric.RecordOption{set}})
	return o.(*attrOptions)
}
