package report_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/report"
	"github.com/syncd/syncd/workspace"
)

// fixtureConfig's %d is the job's fetch concurrency.
const fixtureConfig = `
store: {path: ./data}
jobs:
  - name: alpha
    workspace: projects
    concurrency: %d
    max_size: 4000
    routes:
      - {match: {source: team-mail}, workspace: projects, folder: "Mail attachments"}
      - {match: {path_prefix: Finance}, workspace: finance}
    sources:
      - {name: team-mail, type: memory}
      - {name: finance-share, type: memory}
      - {name: projects-sp, type: memory}
`

// HostileName is a file name that must never run as HTML.
const HostileName = "<script>alert(1)</script>.docx"

// fixSource is a memory source that can fail chosen items, report remote
// sha256 hashes for others, files SharePoint versions ("Lib/v1/a.txt")
// under their library folder ("Lib") and mail attachments under their
// mailbox.
type fixSource struct {
	*memory.Source
	fail   map[string]bool
	hashes map[string]string
}

func (f *fixSource) Scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	return f.Source.Scan(ctx, cur, fixSink{sink, f})
}

func (f *fixSource) Open(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
	if f.fail[string(it.Ref)] {
		return nil, fmt.Errorf("fixture: open %s: %w", it.Ref, connectors.ErrPermission)
	}
	return f.Source.Open(ctx, it)
}

func (f *fixSource) Close() error { return nil }

type fixSink struct {
	connectors.Sink
	f *fixSource
}

func (s fixSink) Item(ctx context.Context, it *connectors.Item) error {
	switch it.Lineage.Kind {
	case "sharepoint":
		it.Path = path.Dir(it.Path)
	case "mail": // ref "INBOX/<uid>/<part>/<name>"; the name may hold slashes
		parts := strings.SplitN(string(it.Ref), "/", 4)
		it.Path, it.Name = it.Lineage.Mailbox, parts[3]
	}
	if h := s.f.hashes[string(it.Ref)]; h != "" {
		it.Hashes = map[string]string{connectors.HashSHA256: h}
	}
	return s.Sink.Item(ctx, it)
}

// fixture is a store built by real runs of the engine.
type fixture struct {
	t       *testing.T
	dir     string
	cfg     *engine.Config
	cat     *workspace.Catalog
	blobs   *dedupe.Disk
	sources map[string]*fixSource
}

var t0 = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

func at(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

// text is a document body: n words drawn by a PRNG seeded with seed (so
// different seeds share almost no phrases), with the words at the given
// positions changed (an edit).
func text(seed, n int, edits ...int) []byte {
	words := strings.Fields("the project board agreed budget plan for shared services with finance estates and people teams " +
		"across regions quarter review risk owner action date cost saving target office lease staff travel training " +
		"supplier contract renewal audit policy vendor system cloud migration server licence support ticket")
	r := rand.New(rand.NewPCG(uint64(seed), 42))
	out := make([]string, n)
	for i := range out {
		out[i] = words[r.IntN(len(words))]
	}
	for _, e := range edits {
		out[e%n] = fmt.Sprintf("edit%d", e)
	}
	return []byte(strings.Join(out, " "))
}

func newFixture(t *testing.T, concurrency int) *fixture {
	t.Helper()
	dir := t.TempDir()
	cfg, err := engine.ParseConfig(filepath.Join(dir, "syncd.yaml"), fmt.Appendf(nil, fixtureConfig, concurrency))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := workspace.Open(context.Background(), filepath.Join(dir, "data", "catalog.db"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	blobs, err := dedupe.OpenDisk(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	f := &fixture{t: t, dir: dir, cfg: cfg, cat: cat, blobs: blobs, sources: map[string]*fixSource{}}
	for _, sc := range cfg.Jobs[0].Sources {
		f.sources[sc.Name] = &fixSource{Source: memory.New(sc.Name), fail: map[string]bool{}, hashes: map[string]string{}}
	}
	return f
}

func (f *fixture) open(c connectors.Config) (connectors.Source, error) {
	s, ok := f.sources[c.Name]
	if !ok {
		return nil, fmt.Errorf("fixture: no source %q", c.Name)
	}
	return s, nil
}

type att struct {
	name string
	data []byte
	skip string
}

// mail puts one message's attachments into the team-mail source.
func (f *fixture) mail(uid int, h int, from, subject, inReplyTo string, atts ...att) {
	for i, a := range atts {
		lin := connectors.Lineage{Kind: "mail", MailLineage: connectors.MailLineage{Account: "team@example.com",
			Mailbox: "INBOX", UIDValidity: 7, UID: uint32(uid), Part: fmt.Sprint(i + 2),
			MessageID: fmt.Sprintf("<m%d@example.com>", uid), Subject: subject, From: from,
			To: []string{"team@example.com"}, Date: at(h)}}
		if inReplyTo != "" {
			lin.InReplyTo = []string{inReplyTo}
			lin.References = []string{inReplyTo}
		}
		f.sources["team-mail"].Put(memory.File{Path: fmt.Sprintf("INBOX/%d/%d/%s", uid, i+2, a.name), Data: a.data,
			ModTime: at(h), Author: from, Skip: a.skip, Lineage: lin})
	}
}

func (f *fixture) share(p string, h int, data []byte) {
	f.sources["finance-share"].Put(memory.File{Path: p, Data: data, ModTime: at(h), Author: "fileserver"})
}

// spVersion puts version n of a SharePoint file, with its remote sha256.
func (f *fixture) spVersion(name string, n, h int, data []byte, by string) {
	p := fmt.Sprintf("Shared Documents/v%d/%s", n, name)
	s := f.sources["projects-sp"]
	s.Put(memory.File{Path: p, Data: data, ModTime: at(h), Author: by, Lineage: connectors.Lineage{Kind: "sharepoint",
		SharePointLineage: connectors.SharePointLineage{Site: "contoso.sharepoint.com/sites/projects", Drive: "b!drive1",
			DriveName: "Shared Documents", ItemID: "item-" + name, VersionID: fmt.Sprintf("%d.0", n), VersionIndex: n}}})
	sum := sha256.Sum256(data)
	s.hashes[p] = hex.EncodeToString(sum[:])
}

// seedFirst is what the first (real) sync stores.
func (f *fixture) seedFirst() {
	f.mail(1, 0, "alice@example.com", "Budget plan", "", att{"Plan v1.txt", text(1, 80), ""}, att{"logo.png", []byte("png"), "signature-logo"})
	f.mail(2, 5, "bob@example.com", "Re: Budget plan", "<m1@example.com>", att{"Plan v1 BJ.txt", text(1, 80, 3, 9), ""})
	f.share("Finance/Q3 Report v1.txt", 1, text(2, 70))
	f.share("Finance/Archive/Q3 Report v1.txt", 2, text(2, 70))
	f.spVersion("Spec.txt", 1, 0, text(3, 90), "dana@example.com")
	f.spVersion("Spec.txt", 2, 3, text(3, 90, 5), "erik@example.com")
}

// seedSecond is what changed before the plan.
func (f *fixture) seedSecond() {
	f.mail(3, 6, "carol@example.com", "Re: Budget plan", "<m1@example.com>", att{"Plan v1 CM.txt", text(1, 80, 40, 41), ""},
		att{"invite.ics", []byte("BEGIN:VCALENDAR"), "calendar-invite"})
	f.mail(4, 8, "mallory@example.net", "look", "", att{HostileName, []byte("<script>alert(1)</script>"), ""})
	f.mail(5, 9, "alice@example.com", "Re: Budget plan", "<m2@example.com>", att{"Plan v2.txt", text(1, 80, 3, 9, 20), ""})
	f.share("Finance/Q3 Report v2.txt", 10, text(2, 70, 11))
	f.share("Finance/Copy of Plan v1.txt", 11, text(1, 80))
	f.share("Finance/Q4 Forecast.txt", 12, text(4, 60))
	f.share("Finance/Old/Q4 Forecast.txt", 13, text(4, 60))
	f.sources["finance-share"].Put(memory.File{Path: "Finance/~$Q3 Report v2.txt", Data: []byte("lock"), ModTime: at(14), Skip: "lockfile"})
	f.share("Finance/secret.xlsx", 15, []byte("secret numbers"))
	f.share("Finance/big.iso", 16, make([]byte, 5000))
	f.share("Finance/=HYPERLINK(\"evil\").csv", 17, []byte("a,b\n"))
	f.sources["finance-share"].fail["Finance/secret.xlsx"] = true
	f.spVersion("Spec.txt", 3, 12, text(3, 90), "dana@example.com") // revert to version 1
	f.spVersion("Spec.txt", 4, 14, text(3, 90, 7), "erik@example.com")
}

func (f *fixture) sync() *engine.Result {
	f.t.Helper()
	eng := &engine.Engine{Catalog: f.cat, Blobs: f.blobs, Open: f.open}
	res, err := eng.RunJob(context.Background(), f.cfg.File, &f.cfg.Jobs[0])
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// plan runs the pipeline against a scratch copy of the catalog with a
// hash-only sink, as `syncd plan` does, and returns the report.
func (f *fixture) plan() (*report.Report, *workspace.Catalog) {
	f.t.Helper()
	ctx := context.Background()
	dst := filepath.Join(f.t.TempDir(), "catalog.db")
	if err := f.cat.Snapshot(ctx, dst); err != nil {
		f.t.Fatal(err)
	}
	scratch, err := workspace.Open(ctx, dst, workspace.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { scratch.Close() })
	eng := &engine.Engine{Catalog: scratch, Blobs: dedupe.HashOnly{Real: f.blobs}, Open: f.open, Mode: engine.ModePlan}
	res, err := eng.RunJob(ctx, f.cfg.File, &f.cfg.Jobs[0])
	if err != nil {
		f.t.Fatal(err)
	}
	rep, err := report.Build(ctx, scratch, []report.Run{report.FromResult(res, engine.ModePlan)})
	if err != nil {
		f.t.Fatal(err)
	}
	return rep, scratch
}

// fixtureReport builds the store and plans the second batch of changes.
// With concurrency 1 the store's sighting ids follow scan order; history
// derives document ids from them (see TestDeterministic).
func fixtureReport(t *testing.T, concurrency int) *report.Report {
	f := newFixture(t, concurrency)
	f.seedFirst()
	f.sync()
	f.seedSecond()
	rep, _ := f.plan()
	return rep
}
