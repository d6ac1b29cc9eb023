package report

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// Run is one run a report covers, with the counts it recorded.
type Run struct {
	ID       int64
	Job      string
	Mode     string
	Status   string
	Counts   workspace.Counts
	Sources  []SourceRun // nil when the run's per-source counts were not kept
	Started  time.Time
	Finished time.Time
}

// SourceRun is one source's counts in a run.
type SourceRun struct {
	Name   string
	Kind   string
	Counts workspace.Counts
	Err    string
}

// FromResult describes a run that just finished (a plan or a sync).
func FromResult(r *engine.Result, mode string) Run {
	out := Run{ID: r.RunID, Job: r.Job, Mode: mode, Status: r.Status, Counts: r.Counts, Started: r.Started, Finished: r.Finished}
	out.Sources = []SourceRun{}
	for _, s := range r.Sources {
		out.Sources = append(out.Sources, SourceRun{Name: s.Name, Kind: s.Kind, Counts: s.Counts, Err: s.Err})
	}
	return out
}

// FromStored describes a past run as the catalog recorded it.
func FromStored(r workspace.Run) Run {
	return Run{ID: r.ID, Job: r.Job, Mode: r.Mode, Status: r.Status, Counts: r.Counts, Started: r.Started, Finished: r.Finished}
}

// runItem is a stored run item with the run it belongs to.
type runItem struct {
	workspace.RunItem
	run *Run
}

// builder holds what Build loads from the catalog: the runs' items and
// the sightings they made, never every sighting or every document
// (those are streamed: see buildDocuments).
type builder struct {
	ctx   context.Context
	cat   *workspace.Catalog
	runs  []Run
	inRun map[int64]bool
	items []runItem
	// bySourceRef is the sighting a run made for an item.
	bySourceRef map[string]workspace.Sighting
	newBlob     map[string]bool // contents stored for the first time by these runs
	rep         *Report
	docTotals   Totals // documents, versions, new and changed documents
}

func itemKey(run int64, source, ref string) string {
	return fmt.Sprintf("%d\x00%s\x00%s", run, source, ref)
}

// Build makes the report of runs from the catalog they wrote to. For a
// plan, cat is the plan's scratch catalog; for a past run, the store's.
// The report's documents are read again from cat when it is written, so
// cat must stay open until then.
func Build(ctx context.Context, cat *workspace.Catalog, runs []Run) (*Report, error) {
	b := &builder{ctx: ctx, cat: cat, runs: runs, inRun: map[int64]bool{},
		bySourceRef: map[string]workspace.Sighting{}, newBlob: map[string]bool{}}
	if err := b.load(ctx, cat); err != nil {
		return nil, err
	}
	kind := "run"
	for _, r := range runs {
		if r.Mode == engine.ModePlan {
			kind = "plan"
		}
	}
	b.rep = &Report{FormatVersion: FormatVersion, Kind: kind, Jobs: []string{}}
	for _, r := range runs {
		if !slices.Contains(b.rep.Jobs, r.Job) {
			b.rep.Jobs = append(b.rep.Jobs, r.Job)
		}
	}
	if err := b.buildItems(); err != nil {
		return nil, err
	}
	b.buildSources()
	if err := b.buildDocuments(); err != nil {
		return nil, err
	}
	if err := b.buildDuplicates(); err != nil {
		return nil, err
	}
	b.buildReasons()
	b.buildTotals()
	b.buildEstimate()
	return b.rep, nil
}

func (b *builder) load(ctx context.Context, cat *workspace.Catalog) error {
	for i := range b.runs {
		r := &b.runs[i]
		b.inRun[r.ID] = true
		items, err := cat.RunItems(ctx, r.ID)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		for _, it := range items {
			b.items = append(b.items, runItem{it, r})
			k := itemKey(r.ID, it.Source, it.Ref)
			if _, done := b.bySourceRef[k]; done {
				continue
			}
			s, ok, err := cat.SightingOfItem(ctx, r.ID, it.Source, it.Ref)
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			if ok {
				b.bySourceRef[k] = s
			}
		}
	}
	for _, it := range b.items {
		if it.Action == string(engine.ActNew) {
			b.newBlob[it.Blob.String()] = true
		}
	}
	return nil
}

// buildItems lists every item the runs recorded. Which of several items
// with one new content is "new" depends on which fetch finished first, so
// the report names the first in (source, ref) order and calls the others
// duplicates of it.
func (b *builder) buildItems() error {
	slices.SortStableFunc(b.items, func(x, y runItem) int {
		return cmp.Or(cmp.Compare(x.Source, y.Source), cmp.Compare(x.Ref, y.Ref), cmp.Compare(x.Name, y.Name), cmp.Compare(x.Size, y.Size))
	})
	first := map[string]runItem{}
	out := make([]Item, 0, len(b.items))
	for _, ri := range b.items {
		it := Item{Source: ri.Source, Ref: ri.Ref, Name: ri.Name, Size: ri.Size, Action: ri.Action, Reason: ri.Reason, detail: ri.Detail}
		if ri.Action == string(engine.ActNew) || ri.Action == string(engine.ActDuplicate) {
			sha := ri.Blob.String()
			it.SHA256 = sha
			if b.newBlob[sha] {
				if f, ok := first[sha]; ok {
					it.Action, it.Reason = string(engine.ActDuplicate), "same content as "+f.Source+": "+f.Name+" (this run)"
				} else {
					first[sha] = ri
					it.Action, it.Reason = string(engine.ActNew), ""
				}
			}
			if err := b.place(ri, &it); err != nil {
				return err
			}
		}
		out = append(out, it)
	}
	b.rep.Items = out
	return nil
}

// place fills in where an item goes: workspace, document and version.
func (b *builder) place(ri runItem, it *Item) error {
	s, ok := b.bySourceRef[itemKey(ri.run.ID, ri.Source, ri.Ref)]
	if !ok {
		return nil
	}
	it.Workspace = s.Workspace
	p, ok, err := b.cat.PlaceOfSighting(b.ctx, s.ID)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if ok {
		it.Document, it.DocID, it.Version = joinPath(p.Folder, p.Name), p.Document, p.Seq
	}
	return nil
}

func (b *builder) buildSources() {
	idx := map[string]int{}
	var out []SourceTotal
	get := func(job, name, kind string) *SourceTotal {
		k := job + "\x00" + name
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, SourceTotal{Job: job, Name: name, Kind: kind, Seen: -1, Known: -1})
		}
		return &out[i]
	}
	for _, r := range b.runs {
		for _, s := range r.Sources {
			st := get(r.Job, s.Name, s.Kind)
			st.Seen, st.Known, st.Error = s.Counts.Scanned, s.Counts.Known, s.Err
		}
	}
	blobs := map[string]map[string]bool{}
	for i, it := range b.rep.Items {
		st := get(b.items[i].run.Job, it.Source, b.kindOf(b.items[i]))
		addCounts(st, it)
		if it.SHA256 != "" {
			k := st.Job + "\x00" + st.Name
			if blobs[k] == nil {
				blobs[k] = map[string]bool{}
			}
			blobs[k][it.SHA256] = true
		}
	}
	for i := range out {
		out[i].DistinctBlobs = int64(len(blobs[out[i].Job+"\x00"+out[i].Name]))
	}
	slices.SortStableFunc(out, func(x, y SourceTotal) int {
		return cmp.Or(cmp.Compare(x.Job, y.Job), cmp.Compare(x.Name, y.Name))
	})
	if out == nil {
		out = []SourceTotal{}
	}
	b.rep.Sources = out
}

func (b *builder) kindOf(ri runItem) string {
	if s, ok := b.bySourceRef[itemKey(ri.run.ID, ri.Source, ri.Ref)]; ok {
		return s.Kind
	}
	return ""
}

func addCounts(st *SourceTotal, it Item) {
	switch it.Action {
	case string(engine.ActNew):
		st.New++
		st.Bytes += it.Size
		st.NewBytes += it.Size
	case string(engine.ActDuplicate):
		st.Duplicate++
		st.Bytes += it.Size
		st.SavedBytes += it.Size
	case string(engine.ActSkip):
		st.Skipped++
	case string(engine.ActProblem):
		st.Problems++
	case string(engine.ActGone):
		st.Gone++
	}
}

func (b *builder) buildTotals() {
	t := &b.rep.Totals
	t.Seen, t.Known = 0, 0
	for _, r := range b.runs {
		t.Seen += r.Counts.Scanned
		t.Known += r.Counts.Known
	}
	blobs := map[string]bool{}
	for _, s := range b.rep.Sources {
		t.New += s.New
		t.Duplicate += s.Duplicate
		t.Skipped += s.Skipped
		t.Problems += s.Problems
		t.Gone += s.Gone
		t.Bytes += s.Bytes
		t.NewBytes += s.NewBytes
		t.SavedBytes += s.SavedBytes
	}
	for _, it := range b.rep.Items {
		if it.SHA256 != "" {
			blobs[it.SHA256] = true
		}
	}
	t.DistinctBlobs = int64(len(blobs))
	t.Documents, t.Versions, t.NewDocuments, t.ChangedDocs = b.docTotals.Documents, b.docTotals.Versions, b.docTotals.NewDocuments, b.docTotals.ChangedDocs
	t.Forks = b.rep.Forks.Len
	t.Conflicts = b.rep.Conflicts.Len
	t.DuplicateGroup = int64(len(b.rep.Duplicates))
}
