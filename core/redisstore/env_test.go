package redisstore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cfaccess/cfaccess/internal/testkit"

	"github.com/cfaccess/cfaccess/core"
	"github.com/cfaccess/cfaccess/core/redisstore"
	"github.com/cfaccess/cfaccess/internal/redistest"
)

// setEnv sets the two variables of FromEnv for the test; an absent one is unset.
func setEnv(t *testing.T, url, key string) {
	t.Helper()
	for name, value := range map[string]string{redisstore.EnvURL: url, redisstore.EnvKey: key} {
		t.Setenv(name, value) // restores the variable, set or not, when t ends
		if value == "" {
			if err := os.Unsetenv(name); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestFromEnvNeitherSet(t *testing.T) {
	for _, c := range []struct{ url, key string }{{"", ""}, {" ", "\t"}} {
		setEnv(t, c.url, c.key)
		if shared, err := redisstore.FromEnv(); shared != nil || err != nil {
			t.Errorf("%q, %q: %+v, %v; want nil, nil: one instance needs no store", c.url, c.key, shared, err)
		}
	}
}

// TestFromEnvErrors: each mistake is a configuration error that names the variable to fix
// and says how, and quotes neither the key nor a password of the URL.
func TestFromEnvErrors(t *testing.T) {
	key := strings.Repeat("42", core.MinStoreKeySize)
	notHex := "not-hex-" + strings.Repeat("Zq", 28)
	const password = "Sw0rdf1sh-horse-staple"
	for _, c := range []struct {
		name, url, key string
		want           []string // fragments of the error
		secrets        []string // never in the error
	}{
		{name: "URL alone", url: "redis://127.0.0.1:6379",
			want: []string{"CF_ACCESS_CACHE_KEY is not set", "openssl rand -hex 32"}},
		{name: "key alone", key: key,
			want: []string{"CF_ACCESS_REDIS_URL is not set", "CF_ACCESS_CACHE_KEY"}, secrets: []string{key}},
		{name: "key not hex", url: "redis://127.0.0.1:6379", key: notHex,
			want: []string{"CF_ACCESS_CACHE_KEY is not hex", "openssl rand -hex 32"}, secrets: []string{notHex[:8], notHex[8:]}},
		{name: "key of an odd number of digits", url: "redis://127.0.0.1:6379", key: key + "4",
			want: []string{"CF_ACCESS_CACHE_KEY is not hex"}, secrets: []string{key}},
		{name: "key too short", url: "redis://127.0.0.1:6379", key: key[:2*(core.MinStoreKeySize-1)],
			want: []string{"CF_ACCESS_CACHE_KEY is 31 bytes", "at least 32"}, secrets: []string{key[:2*(core.MinStoreKeySize-1)]}},
		{name: "host:port with no scheme", url: "127.0.0.1:6379", key: key,
			want: []string{"CF_ACCESS_REDIS_URL", "redis://"}, secrets: []string{key}},
		{name: "host alone", url: "redis.internal", key: key,
			want: []string{"CF_ACCESS_REDIS_URL", "redis://"}},
		{name: "another scheme", url: "http://127.0.0.1:6379", key: key,
			want: []string{"CF_ACCESS_REDIS_URL", "redis://"}},
		{name: "a password and a port that is no number", url: "redis://cfaccess:" + password + "@127.0.0.1:63x79", key: key,
			want: []string{"CF_ACCESS_REDIS_URL", "redis://"}, secrets: []string{password, key}},
		{name: "a password and a database that is no number", url: "redis://cfaccess:" + password + "@127.0.0.1:6379/zero", key: key,
			want: []string{"CF_ACCESS_REDIS_URL", "redis://"}, secrets: []string{password, key}},
		{name: "a password and an unknown option", url: "rediss://:" + password + "@127.0.0.1:6379/0?colour=blue", key: key,
			want: []string{"CF_ACCESS_REDIS_URL", "redis://"}, secrets: []string{password, key}},
	} {
		t.Run(c.name, func(t *testing.T) {
			testFromEnvError(t, c.url, c.key, c.want, c.secrets)
		})
	}

	// A password that is not percent-encoded cuts the URL short where it holds a / ? or #,
	// and a % starts an escape: no part of it may show in the error.
	for _, sep := range []string{"/", "?", "#", "%zz"} {
		parts := []string{"Sw0rdfish", "horse-staple"}
		url := "redis://cfaccess:" + strings.Join(parts, sep) + "@127.0.0.1:6379/0"
		t.Run("a password holding "+sep, func(t *testing.T) {
			testFromEnvError(t, url, key, []string{"CF_ACCESS_REDIS_URL", "redis://"}, append(parts, sep+parts[1]))
		})
	}
}

// testFromEnvError checks that FromEnv, given url and key, fails with a configuration error
// that holds every fragment of want and none of secrets.
func testFromEnvError(t *testing.T, url, key string, want, secrets []string) {
	t.Helper()
	setEnv(t, url, key)
	shared, err := redisstore.FromEnv()
	if err == nil || shared != nil {
		t.Fatalf("FromEnv = %+v, %v; want an error", shared, err)
	}
	if !errors.Is(err, core.ErrConfig) {
		t.Errorf("%v is not a core.ErrConfig", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	for _, secret := range secrets {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%q quotes a secret, %q", err, secret)
		}
	}
}

// TestFromEnv: a good pair is a store in that Redis under that key, which a verifier uses
// as any other: an instance wired from the environment reads what another wrote.
func TestFromEnv(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv.Addr)
	key := hex.EncodeToString(fleetKey)
	setEnv(t, " "+srv.URL+" ", strings.ToUpper(key)+"\n") // white space and case do not matter

	shared, err := redisstore.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if shared == nil || shared.Store == nil || !bytes.Equal(shared.Key, fleetKey) || shared.Timeout != 0 {
		t.Fatalf("FromEnv = %+v, want a store under the key, with the default timeout", shared)
	}
	ctx := context.Background()
	if err := shared.Store.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v := rdb.Get(ctx, redisstore.DefaultPrefix+"k").Val(); v != "v" {
		t.Errorf("the store wrote %q to Redis", v)
	}

	team := testkit.NewTeam(t)
	writer := instance(t, team, srv.Addr)
	member := team.User("ann@example.com", "admins")
	wantGroups(t, writer, member, "ann@example.com", "admins")
	written(t, writer, rdb, 1)
	cfg := team.Config()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Identities.Shared = shared
	reader, err := core.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantGroups(t, reader, member, "ann@example.com", "admins")
	if st := reader.Stats().IdentityStore; st.Hits != 1 || team.IdentityRequests() != 1 {
		t.Errorf("the store from the environment: %+v, %d get-identity calls; want a hit and one call", st, team.IdentityRequests())
	}

	// Options apply as they do to New.
	prefixed, err := redisstore.FromEnv(redisstore.WithPrefix("myapp:"))
	if err != nil {
		t.Fatal(err)
	}
	if err := prefixed.Store.Set(ctx, "k", []byte("mine"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v := rdb.Get(ctx, "myapp:k").Val(); v != "mine" {
		t.Errorf("myapp:k = %q", v)
	}
}
