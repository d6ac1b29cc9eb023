package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
)

// TestConnectorLogsFollowConfig: log.level and log.format reach the
// SharePoint connector: a request answered 503 once is retried, and the
// retry's debug line is written in the configured format (JSON) at debug,
// and not at all at info; by sync and by plan.
func TestConnectorLogsFollowConfig(t *testing.T) {
	for _, c := range []struct{ cmd, level string }{{"sync", "debug"}, {"sync", "info"}, {"plan", "debug"}} {
		level := c.level
		t.Run(c.cmd+"-"+level, func(t *testing.T) {
			f, err := graphfake.NewFromManifest(filepath.Join("..", "..", "fixtures", "sharepoint", "basic"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Inject(graphfake.Rule{Route: graphfake.RouteSite, Times: 1, Fault: graphfake.Fault{Status: 503, RetryAfter: "0"}})
			t.Setenv("SYNCD_TEST_GRAPH_TOKEN", "any-token")
			dir := t.TempDir()
			cfg := filepath.Join(dir, "syncd.yaml")
			text := fmt.Sprintf(`store: {path: ./store}
log: {level: %s, format: json}
jobs:
  - name: j
    sources:
      - name: sp
        type: sharepoint
        site: contoso.sharepoint.com:/sites/finance
        access_token_env: SYNCD_TEST_GRAPH_TOKEN
        graph_url: %s
`, level, f.URL())
			if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			args := []string{c.cmd, "--config", cfg}
			if c.cmd == "plan" {
				args = append(args, "--out", filepath.Join(dir, "plan"))
			}
			if code := runMain(context.Background(), args, &out, &errb); code != 0 {
				t.Fatalf("%s exit %d:\n%s", c.cmd, code, errb.String())
			}
			found := false
			sc := bufio.NewScanner(&errb)
			for sc.Scan() {
				line := sc.Text()
				if !strings.Contains(line, "sharepoint: retrying request") {
					continue
				}
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Errorf("retry line is not JSON: %q", line)
					continue
				}
				found = rec["level"] == "DEBUG" && rec["msg"] == "sharepoint: retrying request"
			}
			if found != (level == "debug") {
				t.Errorf("log.level %s: retry line at debug written=%v; stderr:\n%s", level, found, errb.String())
			}
		})
	}
}
