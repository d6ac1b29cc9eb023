package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/syncd/syncd/connectors/imap/imaptest"
	"github.com/syncd/syncd/connectors/sharepoint/graphfake"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/fixtures"
	"github.com/syncd/syncd/workspace"
)

func init() {
	register(command{use: "demo", summary: "run the main job on built-in sample data (no accounts, no servers to set up)", flags: cmdDemo, complete: completeDemo})
}

// demoPasswordEnv carries the demo IMAP password to the sources by
// reference, as a real config would.
const (
	demoPasswordEnv = "SYNCD_DEMO_IMAP_PASSWORD"
	demoTokenEnv    = "SYNCD_DEMO_GRAPH_TOKEN"
)

func cmdDemo(fs *pflag.FlagSet) runFunc {
	dir := fs.String("dir", "", "working `dir` for the store, config and report (default: a new temp dir)")
	corpus := fs.String("corpus", "", "serve this corpus `dir` (mail/, share/, sharepoint/ as the eval kit writes) instead of the built-in sample")
	server := fs.String("imap-server", "memory", "IMAP server for the mail: memory (in-process go-imap) or dovecot (real Dovecot on loopback)")
	logFormat := fs.String("log-format", "auto", "log format: auto, text or json")
	logLevel := fs.String("log-level", "warn", "log level")
	serveAddr := fs.String("serve", "", "then serve the sample workspace's web interface on this `address` (e.g. 127.0.0.1:8380) until Ctrl-C")
	return func(ctx context.Context, _ []string, stdout, stderr io.Writer) error {
		if *dir == "" {
			d, err := os.MkdirTemp("", "syncd-demo-")
			if err != nil {
				return err
			}
			*dir = d
		}
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return err
		}
		*dir = abs
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			return err
		}
		if *corpus == "" {
			*corpus = filepath.Join(*dir, "corpus")
			if !exists(*corpus) {
				if err := fixtures.ExtractDemo(*corpus); err != nil {
					return fmt.Errorf("demo: extract sample data: %w", err)
				}
			}
		}
		srv, err := startDemoServers(ctx, *corpus, *server)
		if err != nil {
			return err
		}
		defer srv.stop()
		cfgPath := filepath.Join(*dir, "syncd.yaml")
		if err := os.WriteFile(cfgPath, []byte(srv.config(*corpus, filepath.Join(*dir, "store"))), 0o644); err != nil {
			return err
		}
		cfg, err := engine.LoadConfig(cfgPath)
		if err != nil {
			return err
		}
		st, err := openStore(ctx, cfg.Store)
		if err != nil {
			return err
		}
		st.keyCap = cfg.History.KeyCap
		st.cat.SetIndexCache(cfg.Store.CacheMB)
		defer st.Close()
		log := newLogger(stderr, *logFormat, *logLevel)
		eng := st.engine(log)
		results, err := runJobs(ctx, eng, cfg, []*engine.Job{&cfg.Jobs[0]})
		if err != nil {
			return err
		}
		reportDir := filepath.Join(*dir, "report")
		if err := writePlan(ctx, st.cat, results, reportDir); err != nil {
			return err
		}
		addr := *serveAddr
		if addr == "" {
			addr = defaultServeListen
		}
		sumErr := demoSummary(ctx, stdout, st, results, cfgPath, reportDir, addr, *serveAddr != "")
		if *serveAddr == "" {
			return sumErr
		}
		web, err := startWeb(cfg.Serve, st, addr, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Serving the sample workspace on http://%s/ (Ctrl-C stops)\n", web.ln.Addr())
		<-ctx.Done()
		web.stop()
		return sumErr
	}
}

// demoServers are the in-process stand-ins for a mail server and SharePoint.
type demoServers struct {
	imap     *imaptest.Server
	graph    *graphfake.Server
	sites    []string
	hasShare bool
}

func startDemoServers(ctx context.Context, corpus, imapKind string) (*demoServers, error) {
	s := &demoServers{hasShare: exists(filepath.Join(corpus, "share"))}
	var err error
	if exists(filepath.Join(corpus, "mail")) {
		switch imapKind {
		case "memory":
			s.imap, err = imaptest.StartMemory(ctx, filepath.Join(corpus, "mail"))
		case "dovecot":
			s.imap, err = imaptest.StartDovecot(ctx, filepath.Join(corpus, "mail"))
		default:
			return nil, usagef("--imap-server %q: memory or dovecot", imapKind)
		}
		if err != nil {
			return nil, fmt.Errorf("demo: mail server: %w", err)
		}
		os.Setenv(demoPasswordEnv, imaptest.Password)
	}
	if exists(filepath.Join(corpus, "sharepoint", "manifest.json")) {
		s.graph, err = graphfake.NewFromManifest(filepath.Join(corpus, "sharepoint"))
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("demo: SharePoint: %w", err)
		}
		os.Setenv(demoTokenEnv, "demo-token")
		if s.sites, err = manifestSites(filepath.Join(corpus, "sharepoint", "manifest.json")); err != nil {
			s.stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *demoServers) stop() {
	if s.imap != nil {
		s.imap.Stop()
	}
	if s.graph != nil {
		s.graph.Close()
	}
}

// manifestSites turns the manifest's site web URLs into "host:/sites/x".
func manifestSites(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m struct {
		Sites []struct {
			WebURL string `json:"webUrl"`
		} `json:"sites"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("demo: %s: %w", path, err)
	}
	var out []string
	for _, st := range m.Sites {
		u, err := url.Parse(st.WebURL)
		if err != nil {
			return nil, err
		}
		out = append(out, u.Host+":"+strings.TrimSuffix(u.Path, "/"))
	}
	return out, nil
}

// config writes the demo's syncd.yaml: one job, one source per mailbox
// account, the share, and the SharePoint site(s).
func (s *demoServers) config(corpus, store string) string {
	var b strings.Builder
	b.WriteString("# Written by `syncd demo`. The servers it names live only while the demo runs.\n")
	// The web interface (`syncd serve`): anyone on this machine may view
	// and correct. No serve.listen: `syncd run` on this config serves none.
	// Before store: the store's lines end where jobs begin.
	b.WriteString("serve:\n  local: curator\n")
	fmt.Fprintf(&b, "store:\n  path: %q\n", store)
	fmt.Fprintf(&b, "jobs:\n  - name: department\n    workspace: department\n    sources:\n")
	if s.hasShare {
		fmt.Fprintf(&b, "      - name: share\n        type: folder\n        path: %q\n", filepath.Join(corpus, "share"))
	}
	if s.imap != nil {
		for _, u := range s.imap.Users {
			fmt.Fprintf(&b, "      - name: %q\n        type: imap\n        address: %q\n        tls: none\n        username: %q\n        password_env: %s\n",
				"mail-"+u, s.imap.Addr, u, demoPasswordEnv)
		}
	}
	for i, site := range s.sites {
		fmt.Fprintf(&b, "      - name: sharepoint-%d\n        type: sharepoint\n        site: %q\n        graph_url: %q\n        access_token_env: %s\n",
			i+1, site, s.graph.URL(), demoTokenEnv)
	}
	return b.String()
}

func demoSummary(ctx context.Context, w io.Writer, st *store, results []*engine.Result, cfgPath, reportDir, addr string, serving bool) error {
	stats, err := st.cat.Stats(ctx)
	if err != nil {
		return err
	}
	var sources int
	var c workspace.Counts
	for _, r := range results {
		sources += len(r.Sources)
		c.Add(r.Counts)
	}
	fmt.Fprintf(w, "syncd demo: %d sources scanned\n", sources)
	fmt.Fprintf(w, "  items seen          %d (%d skipped as not documents, %d problems)\n", c.Scanned, c.Skipped, c.Problems)
	fmt.Fprintf(w, "  copies stored       %d sightings of %d distinct contents\n", stats.Sightings, stats.Blobs)
	fmt.Fprintf(w, "  saved by dedupe     %s of %s\n", humanBytes(stats.SightingBytes-stats.BlobBytes), humanBytes(stats.SightingBytes))
	fmt.Fprintf(w, "  documents           %d with %d versions\n", stats.Documents, stats.Versions)
	fmt.Fprintf(w, "  store               %s\n", filepath.Dir(catalogPath(st.dir)))
	fmt.Fprintf(w, "  config              %s\n", cfgPath)
	fmt.Fprintf(w, "  report              %s\n", filepath.Join(reportDir, "report.html"))
	if !serving {
		fmt.Fprintf(w, "  web interface       syncd serve --config %s  (then open http://%s/)\n", cfgPath, addr)
	}
	if d, ok := richestDocument(ctx, st); ok {
		fmt.Fprintf(w, "Try: syncd history --config %s %q\n", cfgPath, termSafe(d.Name))
		fmt.Fprintf(w, " or: http://%s/d/%s\n", addr, url.PathEscape(d.Key))
	}
	return problemsErr(results)
}

// richestDocument names the document with the most versions, to show off.
func richestDocument(ctx context.Context, st *store) (workspace.Document, bool) {
	var best workspace.Document
	err := st.cat.EachDocument(ctx, func(d workspace.Document) error {
		if len(d.Versions) > len(best.Versions) || (len(d.Versions) == len(best.Versions) && d.Name < best.Name) {
			best = d
		}
		return nil
	})
	return best, err == nil && len(best.Versions) > 0
}
