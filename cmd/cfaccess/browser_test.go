package main_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// requireChromiumEnv turns the browser test's skip, when no Chromium is installed, into a
// failure: CI installs Debian's chromium and sets it.
const requireChromiumEnv = "CFACCESS_REQUIRE_CHROMIUM"

// browserTimeout bounds the whole browser session: a failure, not a hang. Every step
// waits for an element or a condition, not for a duration.
const browserTimeout = 10 * time.Minute

// chromium returns the path of a Chromium to drive, or skips the test (fails it when
// CFACCESS_REQUIRE_CHROMIUM=1).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv(requireChromiumEnv) == "1" {
		t.Fatalf("no chromium on PATH, and %s=1: install Debian's package (apt-get install -y chromium)", requireChromiumEnv)
	}
	t.Skipf("SKIPPED: no chromium on PATH, so the identity switcher is not tested in a browser (apt-get install -y chromium; set %s=1 to make this a failure)", requireChromiumEnv)
	return ""
}

// browse starts a headless Chromium of its own, with a fresh profile.
func browse(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", chromium(t), err)
	}
	return ctx
}

// The identity switcher in a real browser: choose someone else, see the application
// receive them; sign out, see it receive no token.
func TestSwitcherInABrowser(t *testing.T) {
	ctx := browse(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	origin := pair(t, exe, []string{upstreamEnv + "=1"}, "-email", "ann@example.com", "-groups", "admins")
	switcher := origin + "/cdn-cgi/access/dev"

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(what, url, sel string) string {
		t.Helper()
		step(what, chromedp.Navigate(url))
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return s
	}
	// until waits for a condition in the page, such as the page a form's post leads to;
	// the session's deadline bounds it.
	until := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(0))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// submit clicks a button and waits for the page the post leads to.
	submit := func(what, button string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(button)))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// choose fills the switcher's form with set, posts it and waits for the page to say
	// that requests are now signed as current.
	choose := func(what, current string, set ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		step(what, append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(switcher), chromedp.WaitVisible(chromedp.CSS("#identity-form"))}, set...)...)
		submit("posting the form", "#switch")
		until("the page after "+what, `(document.querySelector('#current-identity') || {}).textContent === `+jsString(current))
	}

	if got := text("the switcher page", switcher, "#current-identity"); !strings.HasPrefix(got, "ann@example.com") {
		t.Fatalf("the page says requests are signed for %q", got)
	}
	if got := text("/whoami as the default", origin+"/whoami", "body"); !strings.Contains(got, `"ann@example.com"`) {
		t.Fatalf("/whoami: %s", got)
	}

	// Another user, of another identity provider, with other groups.
	choose("choosing carol", "carol@example.com (groups staff, ops; Microsoft Entra ID)",
		chromedp.Click(chromedp.CSS("#kind-user")),
		chromedp.SetValue(chromedp.CSS("#email"), "carol@example.com"),
		chromedp.SetValue(chromedp.CSS("#groups"), "staff, ops"),
		chromedp.SetValue(chromedp.CSS("#idp"), "azureAD"),
	)
	if got := text("/whoami as carol", origin+"/whoami", "body"); !strings.Contains(got, `"carol@example.com"`) {
		t.Errorf("/whoami after switching: %s", got)
	}
	if got := text("/me as carol", origin+"/me", "body"); !strings.Contains(got, `"azureAD"`) || !strings.Contains(got, `"ops"`) {
		t.Errorf("/me after switching: %s", got)
	}
	if got := text("/admin as carol", origin+"/admin", "body"); !strings.Contains(got, "forbidden") {
		t.Errorf("/admin for staff: %s", got)
	}

	// A service token.
	choose("choosing a service token", "service token feedc0de.access",
		chromedp.Click(chromedp.CSS("#kind-service")),
		chromedp.SetValue(chromedp.CSS("#service_token"), "feedc0de.access"),
	)
	if got := text("/whoami as the service token", origin+"/whoami", "body"); !strings.Contains(got, `"common_name":"feedc0de.access"`) {
		t.Errorf("/whoami as a service token: %s", got)
	}

	// Nobody.
	choose("signing out", "signed out", chromedp.Click(chromedp.CSS("#kind-out")))
	if got := text("/whoami signed out", origin+"/whoami", "body"); !strings.Contains(got, "missing_token") {
		t.Errorf("/whoami signed out: %s", got)
	}
	if got := text("the token signed out", origin+"/token", "body"); got != "" {
		t.Errorf("signed out, the application received a token: %.40s…", got)
	}

	// Signing in again, from the page's link, brings back the service token.
	step("signing in again",
		chromedp.Navigate(switcher),
	)
	submit("following the sign-in link", "#sign-in")
	until("the page after signing in", `location.pathname === "/"`)
	if got := text("/whoami signed in again", origin+"/whoami", "body"); !strings.Contains(got, `"common_name":"feedc0de.access"`) {
		t.Errorf("/whoami signed in again: %s", got)
	}
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
