package redisstore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/cfaccess/cfaccess/core"
)

// The environment variables that FromEnv reads.
const (
	// EnvURL is the Redis or Valkey that the instances share: redis://host:port, or
	// rediss:// for TLS, with a user, password and database as go-redis's ParseURL reads.
	EnvURL = "CF_ACCESS_REDIS_URL"
	// EnvKey is the secret that names and seals the entries, the same on every instance: at
	// least core.MinStoreKeySize bytes, in hex (openssl rand -hex 32).
	EnvKey = "CF_ACCESS_CACHE_KEY"
)

// FromEnv returns the shared identity store that the environment describes, for
// core.Config.Identities.Shared, by the convention of core.ConfigFromEnv:
//
//	CF_ACCESS_REDIS_URL   redis://host:port (rediss:// for TLS) of the Redis or Valkey the instances share
//	CF_ACCESS_CACHE_KEY   the key, the same on every instance: at least 32 bytes, hex (openssl rand -hex 32)
//
// With neither set it returns nil, and no error: one instance needs no store. One without
// the other, a URL that is not a Redis URL, or a key that is not hex or too short, is an
// error that names the variable and wraps core.ErrConfig; it never quotes the key, nor a
// URL that may hold a password. The go-redis client it makes (ContextTimeoutEnabled, so
// that a slow Redis gives its connection up with the lookup) lives as long as the process.
func FromEnv(opts ...Option) (*core.SharedStore, error) {
	rawURL, key := strings.TrimSpace(os.Getenv(EnvURL)), strings.TrimSpace(os.Getenv(EnvKey))
	switch {
	case rawURL == "" && key == "":
		return nil, nil
	case rawURL == "":
		return nil, envError(EnvURL, "is not set but "+EnvKey+" is: set both to share identities through Redis, or neither")
	case key == "":
		return nil, envError(EnvKey, "is not set but "+EnvURL+" is: set it to the same random key on every instance (openssl rand -hex 32)")
	}
	secret, err := hex.DecodeString(key)
	if err != nil { // the decoder's error would quote the secret
		return nil, envError(EnvKey, "is not hex: make one with openssl rand -hex 32")
	}
	if len(secret) < core.MinStoreKeySize {
		return nil, envError(EnvKey, fmt.Sprintf("is %d bytes; it must be at least %d (openssl rand -hex 32)", len(secret), core.MinStoreKeySize))
	}
	lower := strings.ToLower(rawURL)
	if !strings.HasPrefix(lower, "redis://") && !strings.HasPrefix(lower, "rediss://") {
		return nil, envError(EnvURL, "is not a Redis URL: write it as redis://host:port (rediss://host:port for TLS)")
	}
	ropts, err := redis.ParseURL(rawURL)
	if err != nil {
		// Neither parser's message is safe to repeat when the URL carries credentials: a
		// password with an unescaped / ? # or % is quoted back in part, as a port, a path
		// or a database number.
		if strings.Contains(rawURL, "@") {
			return nil, envError(EnvURL, "is not a Redis URL: write it as redis://[user:password@]host:port[/db], with any / ? # % @ or : of the password percent-encoded")
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, envError(EnvURL, "is not a Redis URL (redis://host:port): "+err.Error())
	}
	ropts.ContextTimeoutEnabled = true
	store, err := New(redis.NewClient(ropts), opts...)
	if err != nil {
		return nil, envError(EnvURL, err.Error())
	}
	return &core.SharedStore{Store: store, Key: secret}, nil
}

func envError(name, msg string) error {
	return fmt.Errorf("%w: %s %s", core.ErrConfig, name, msg)
}
