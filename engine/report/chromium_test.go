package report_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/engine/report"
	"github.com/syncd/syncd/engine/report/headless"
)

// needBrowser skips without Chromium, except under CI where it fails.
func needBrowser(t *testing.T) {
	t.Helper()
	if _, err := headless.Browser(); errors.Is(err, headless.ErrNoBrowser) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func load(t *testing.T, page string, opt headless.Options) *headless.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := headless.Load(ctx, "file://"+page, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestHeadlessSeesTrouble proves the harness below can fail: a page that
// logs an error and fetches an image (from a closed loopback port) is
// caught.
func TestHeadlessSeesTrouble(t *testing.T) {
	needBrowser(t)
	page := filepath.Join(t.TempDir(), "bad.html")
	bad := `<!DOCTYPE html><title>bad</title><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script>`
	if err := os.WriteFile(page, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	res := load(t, page, headless.Options{})
	t.Logf("requests %v console %v logs %v", res.Requests, res.Console, res.Logs)
	if len(res.Requests) < 2 {
		t.Errorf("requests %v: the image request was not seen", res.Requests)
	}
	if len(res.Console) == 0 || !strings.Contains(res.Console[0], "boom") {
		t.Errorf("console %v: the error was not seen", res.Console)
	}
}

// TestReportOpensInChromium: report.html loads with no console message,
// no log warning or error, no exception, and no request but itself.
func TestReportOpensInChromium(t *testing.T) {
	needBrowser(t)
	dir := t.TempDir()
	if err := report.WriteDir(dir, fixtureReport(t, 4)); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, report.FileHTML)
	opt := headless.Options{Eval: `[document.title, document.querySelectorAll("section").length, document.querySelectorAll("svg").length, document.body.innerText.includes("<script>alert(1)</script>.docx")]`}
	if shot := os.Getenv("SYNCD_REPORT_SCREENSHOT"); shot != "" {
		opt.Screenshot = shot
	}
	res := load(t, page, opt)
	t.Logf("requests %v, page evaluated to %s", res.Requests, res.Eval)
	if len(res.Requests) != 1 || res.Requests[0] != "file://"+page {
		t.Errorf("requests %v, want only the page itself", res.Requests)
	}
	if len(res.Console)+len(res.Logs)+len(res.Exceptions) > 0 {
		t.Errorf("console %v logs %v exceptions %v, want none", res.Console, res.Logs, res.Exceptions)
	}
	want := `["Migration plan: alpha",8,`
	if !strings.HasPrefix(string(res.Eval), want) || !strings.HasSuffix(string(res.Eval), ",true]") {
		t.Errorf("page evaluated to %s, want title, 8 sections, charts and the hostile name shown as text", res.Eval)
	}
}
