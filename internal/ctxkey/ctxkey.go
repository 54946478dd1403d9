// Package ctxkey holds the context key under which the request's caller is kept, shared by
// package core, which reads it for applications, and package core/adapter, which needs to
// tell a request that a middleware saw without a caller from one no middleware saw.
package ctxkey

// Caller is the key of the request's *core.Caller in a context.Context. A nil *core.Caller
// under it marks a request that an authenticating middleware saw and let through without a
// caller.
type Caller struct{}
