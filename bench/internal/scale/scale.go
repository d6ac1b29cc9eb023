// Package scale fills a syncd store with synthetic sightings, through the
// catalog's own Commit, to time plan, report, export and verify at a
// scale no generated workload reaches in minutes.
package scale

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/dedupe"
	"github.com/syncd/syncd/workspace"
)

// Spec shapes the synthetic store.
type Spec struct {
	Sightings int // total sightings
	PerBlob   int // sightings of each blob on average (copies across mailboxes and folders)
	Versions  int // versions per document
	Batch     int // sightings per Commit
}

// Stats is what Populate wrote.
type Stats struct {
	Sightings, Blobs, Documents int
	BlobBytes                   int64
}

var accounts = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}

// Populate writes s.Sightings sightings into the store at dir (catalog.db
// and blobs/): documents with Versions versions, each version a small blob
// seen PerBlob times, as mail attachments in several mailboxes or as files
// in several share folders, in one run that records an item for each
// sighting (a migration's report lists them all). Blob files are written
// without fsync.
func Populate(ctx context.Context, dir string, s Spec) (Stats, error) {
	if s.PerBlob <= 0 || s.Versions <= 0 || s.Batch <= 0 {
		return Stats{}, fmt.Errorf("scale: spec %+v: PerBlob, Versions and Batch must be positive", s)
	}
	return write(ctx, dir, s, "scale", 7, (*populator).fill)
}

// Touch adds a new version, seen PerBlob times, to every hundredth of the
// documents Populate wrote (documents 0, 100, 200, ...): what a sync that
// touches 1% of the documents brings. Round n (1, 2, ...) adds version
// Versions+n, so that each touch brings new content.
func Touch(ctx context.Context, dir string, s Spec, documents, round int) (Stats, error) {
	if round < 1 {
		return Stats{}, fmt.Errorf("scale: touch round %d: rounds count from 1", round)
	}
	return write(ctx, dir, s, "scale-touch", 7+uint64(round), func(p *populator) error {
		for doc := 0; doc < documents; doc += 100 {
			if err := p.version(doc, s.Versions+round); err != nil {
				return err
			}
		}
		return p.flush()
	})
}

// write runs fill as one run of job on the store at dir, blob files
// written beside the commits.
func write(ctx context.Context, dir string, s Spec, job string, seed uint64, fill func(*populator) error) (Stats, error) {
	cat, err := workspace.Open(ctx, filepath.Join(dir, "catalog.db"), workspace.Options{})
	if err != nil {
		return Stats{}, err
	}
	defer cat.Close()
	blobs, err := dedupe.OpenDisk(dir)
	if err != nil {
		return Stats{}, err
	}
	run, err := cat.StartRun(ctx, job, "sync")
	if err != nil {
		return Stats{}, err
	}
	p := &populator{ctx: ctx, cat: cat, disk: blobs, s: s, r: rand.New(rand.NewPCG(seed, seed)), batch: workspace.Batch{RunID: run}}
	p.startWriters(2)
	err = fill(p)
	if werr := p.stopWriters(); err == nil {
		err = werr
	}
	if err != nil {
		return p.st, err
	}
	counts := workspace.Counts{New: int64(p.st.Blobs), Duplicate: int64(p.st.Sightings - p.st.Blobs)}
	return p.st, cat.FinishRun(ctx, run, workspace.StatusOK, counts, "")
}

type populator struct {
	ctx   context.Context
	cat   *workspace.Catalog
	disk  *dedupe.Disk
	s     Spec
	r     *rand.Rand
	batch workspace.Batch
	st    Stats

	// Blob files are written by other goroutines while SQLite commits.
	files chan blobFile
	wg    sync.WaitGroup
	mu    sync.Mutex
	werr  error
}

type blobFile struct {
	path    string
	content []byte
}

func (p *populator) fill() error {
	for p.st.Sightings < p.s.Sightings {
		if err := p.document(); err != nil {
			return err
		}
	}
	return p.flush()
}

func (p *populator) startWriters(n int) {
	p.files = make(chan blobFile, 256)
	for range n {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for f := range p.files {
				if err := writeBlob(f); err != nil {
					p.mu.Lock()
					if p.werr == nil {
						p.werr = err
					}
					p.mu.Unlock()
				}
			}
		}()
	}
}

func (p *populator) stopWriters() error {
	close(p.files)
	p.wg.Wait()
	return p.werr
}

func writeBlob(f blobFile) error {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o750); err != nil {
		return err
	}
	return os.WriteFile(f.path, f.content, 0o640)
}

// document writes one document: its versions and their sightings.
func (p *populator) document() error {
	doc := p.st.Documents
	p.st.Documents++
	for v := 1; v <= p.s.Versions && p.st.Sightings < p.s.Sightings; v++ {
		if err := p.version(doc, v); err != nil {
			return err
		}
	}
	return nil
}

// version writes version v of doc and its sightings.
func (p *populator) version(doc, v int) error {
	title := fmt.Sprintf("Document %d", doc)
	base := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(doc) * time.Minute)
	sums, err := p.blob(doc, v)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s v%d.docx", title, v)
	for k := range p.s.PerBlob {
		if p.s.Sightings > 0 && p.st.Sightings >= p.s.Sightings {
			break
		}
		st := p.sighting(doc, v, k, name, sums, base.Add(time.Duration(v)*24*time.Hour))
		p.batch.Sightings = append(p.batch.Sightings, st)
		// The run's item, as a sync records it: the first copy of a
		// content is new, the others duplicates.
		act := "new"
		if k > 0 {
			act = "duplicate"
		}
		p.batch.Items = append(p.batch.Items, workspace.RunItem{Source: st.Source, Ref: st.Ref, Name: st.Name, Size: st.Size, Action: act, Blob: sums.ID})
		p.st.Sightings++
	}
	if len(p.batch.Sightings) >= p.s.Batch {
		return p.flush()
	}
	return nil
}

// blob writes the content of version v of doc into the blob store.
func (p *populator) blob(doc, v int) (dedupe.Sums, error) {
	content := fmt.Appendf(nil, "document %d version %d\n", doc, v)
	content = append(content, make([]byte, 256+p.r.IntN(768))...)
	for i := len(content) - 1; i > 40; i-- {
		content[i] = byte(p.r.Uint32())
	}
	h := dedupe.NewHasher()
	h.Write(content)
	sums := h.Sums()
	select {
	case p.files <- blobFile{p.disk.Path(sums.ID), content}:
	case <-p.ctx.Done():
		return sums, p.ctx.Err()
	}
	p.batch.Blobs = append(p.batch.Blobs, workspace.Blob{Sums: sums, Sketched: true})
	p.st.Blobs++
	p.st.BlobBytes += sums.Size
	return sums, nil
}

// sighting k of version v: even documents live in mail, odd ones on the
// share.
func (p *populator) sighting(doc, v, k int, name string, sums dedupe.Sums, t time.Time) workspace.Sighting {
	s := workspace.Sighting{Blob: sums.ID, Name: name, Size: sums.Size, Time: t, Workspace: "department", RunID: p.batch.RunID}
	if doc%2 == 0 {
		acct := accounts[(doc+k)%len(accounts)]
		msgID := fmt.Sprintf("<d%d.v%d@dept.example>", doc, v)
		s.Source, s.Kind = "mail-"+acct, "mail"
		s.Ref = fmt.Sprintf("%s/INBOX/1/%d/2", acct, doc*16+v)
		s.Fingerprint = msgID
		s.Author = accounts[doc%len(accounts)] + "@dept.example"
		s.Lineage = connectors.Lineage{Kind: "mail", MailLineage: connectors.MailLineage{Account: acct,
			Mailbox: "INBOX", UIDValidity: 1, UID: uint32(doc*16 + v), Part: "2", MessageID: msgID,
			Subject: fmt.Sprintf("Document %d", doc), From: s.Author, Date: t}}
		if v > 1 {
			prev := fmt.Sprintf("<d%d.v%d@dept.example>", doc, v-1)
			s.Lineage.InReplyTo, s.Lineage.References = []string{prev}, []string{prev}
		}
		return s
	}
	folder := fmt.Sprintf("Team %d/Folder %d", doc%50, k)
	s.Source, s.Kind = "share", "share"
	s.Path = folder + "/" + name
	s.Ref = s.Path
	s.Fingerprint = fmt.Sprintf("%d:%d", sums.Size, t.Unix())
	s.Folder = folder
	s.Lineage = connectors.Lineage{Kind: "share", ShareLineage: connectors.ShareLineage{Remote: "/srv/share"}}
	return s
}

func (p *populator) flush() error {
	if p.batch.Empty() {
		return nil
	}
	if _, err := p.cat.Commit(p.ctx, &p.batch); err != nil {
		return err
	}
	p.batch = workspace.Batch{RunID: p.batch.RunID}
	return nil
}
