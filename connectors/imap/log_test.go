package imap_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/imap/imaptest"
)

// TestReconnectLogsThroughConfigLogger: the connector logs through the
// logger the engine gives it (connectors.Config.Log, with the configured
// level and format), not slog.Default(): a dropped scan connection's
// reconnect line is written there, as JSON, with the source's name.
func TestReconnectLogsThroughConfigLogger(t *testing.T) {
	srv := startMemory(t)
	p := newCutProxy(t, srv.addr)
	p.cut.Store(5000) // inside the INBOX metadata
	os.Setenv("SYNCD_TEST_IMAP_PW", imaptest.Password)
	cfg := connectortest.Config(t, fmt.Sprintf(`
name: logged-mail
type: imap
address: %s
tls: none
username: %s
password_env: SYNCD_TEST_IMAP_PW
batch_size: 4
`, p.ln.Addr(), alice))
	var buf bytes.Buffer
	cfg.Log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := connectors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	connectortest.Scan(t, s, nil)
	found := false
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if rec["msg"] == "imap: reconnecting" && rec["source"] == "logged-mail" {
			found = true
		}
	}
	if !found {
		t.Errorf("no reconnect line in the configured logger; it has:\n%s", buf.String())
	}
}
