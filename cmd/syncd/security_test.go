package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func doWith(t *testing.T, method, url, host string, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func allRuns(t *testing.T, base string) int {
	t.Helper()
	var r runsReply
	getJSON(t, base+"/api/v1/runs", "", &r)
	return len(r.Runs)
}

// The loopback API without a token refuses what a web page can make a
// browser send: a cross-site form POST, and any request whose Host is
// not loopback or the listen address (DNS rebinding). Requests with no
// Origin (curl, scripts) and same-origin ones still work (issue 15, item 4).
func TestAPIRefusesCrossSiteAndRebinding(t *testing.T) {
	t.Setenv("SYNCD_TEST_SOURCE_PASSWORD", "x")
	td := startTestDaemon(t, tempConfig(t, apiConfig), nil)
	port := td.d.addr()[strings.LastIndex(td.d.addr(), ":")+1:]
	post := td.base + "/api/v1/jobs/docs/run"
	for _, h := range []map[string]string{
		{"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
		{"Origin": "null"},
		{"Origin": "http://localhost.evil.example:" + port},
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "http://127.0.0.1:" + port, "Sec-Fetch-Site": "cross-site"},
	} {
		if code, b := doWith(t, http.MethodPost, post, "", h); code != http.StatusForbidden {
			t.Errorf("POST with %v: %d %s, want 403", h, code, b)
		}
	}
	if n := allRuns(t, td.base); n != 0 {
		t.Fatalf("a refused request started %d runs", n)
	}
	for _, host := range []string{"evil.example", "evil.example:" + port, "127.0.0.1.evil.example:" + port, "10.0.0.1:" + port} {
		for _, p := range []string{"/api/v1/runs", "/api/v1/jobs", "/metrics"} {
			if code, b := doWith(t, http.MethodGet, td.base+p, host, nil); code != http.StatusMisdirectedRequest || strings.Contains(string(b), "docs") {
				t.Errorf("GET %s with Host %s: %d, want 421", p, host, code)
			}
		}
		if code, _ := doWith(t, http.MethodPost, post, host, nil); code != http.StatusMisdirectedRequest {
			t.Errorf("POST with Host %s: %d, want 421", host, code)
		}
	}
	for _, host := range []string{"", "localhost:" + port, "LOCALHOST", "[::1]:" + port, "127.0.0.1"} {
		if code, _ := doWith(t, http.MethodGet, td.base+"/api/v1/jobs", host, nil); code != http.StatusOK {
			t.Errorf("GET with Host %q: %d, want 200", host, code)
		}
	}
	if n := allRuns(t, td.base); n != 0 {
		t.Fatalf("a refused request started %d runs", n)
	}
	// Same origin (the API's own page) works.
	same := map[string]string{"Origin": "http://127.0.0.1:" + port, "Sec-Fetch-Site": "same-origin"}
	if code, b := doWith(t, http.MethodPost, post, "", same); code != http.StatusAccepted {
		t.Fatalf("same-origin POST: %d %s, want 202", code, b)
	}
	eventually(t, "the same-origin run finished", func() bool { return len(finishedRuns(t, td.base, "", "docs")) == 1 })
	// So does a CLI-style request (no Origin, no Sec-Fetch-Site).
	if code, b := doWith(t, http.MethodPost, post, "", nil); code != http.StatusAccepted {
		t.Fatalf("CLI-style POST: %d %s, want 202", code, b)
	}
	eventually(t, "the CLI-style run finished", func() bool { return len(finishedRuns(t, td.base, "", "docs")) == 2 })
	if err := td.stop(t); err != nil {
		t.Fatal(err)
	}
}

// With a token, the token is what counts: any Host on a wildcard listen
// address, any Origin, as long as the bearer token is right.
func TestAPITokenWorksCrossOrigin(t *testing.T) {
	t.Setenv("SYNCD_TEST_SOURCE_PASSWORD", "x")
	const token = "another-s3cr3t-token"
	t.Setenv("SYNCD_TEST_TOKEN", token)
	td := startTestDaemon(t, tempConfig(t, apiConfig), func(o *daemonOptions) {
		o.listen = "0.0.0.0:0"
		o.tokenEnv = "SYNCD_TEST_TOKEN"
	})
	base := "http://127.0.0.1:" + td.d.addr()[strings.LastIndex(td.d.addr(), ":")+1:]
	evil := map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
	if code, _ := doWith(t, http.MethodPost, base+"/api/v1/jobs/docs/run", "files.example.gov.uk", evil); code != http.StatusUnauthorized {
		t.Errorf("cross-site POST without the token: %d, want 401", code)
	}
	evil["Authorization"] = "Bearer " + token
	if code, b := doWith(t, http.MethodPost, base+"/api/v1/jobs/docs/run", "files.example.gov.uk", evil); code != http.StatusAccepted {
		t.Fatalf("POST with the token: %d %s, want 202", code, b)
	}
	eventually(t, "the run finished", func() bool { return len(finishedRuns(t, base, token, "docs")) == 1 })
	if err := td.stop(t); err != nil {
		t.Fatal(err)
	}
}
