package report

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
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

// builder holds what Build works out. It holds none of the runs' items,
// sightings or documents: each long list is read from the catalog, an
// element at a time, each time it is written (see List).
type builder struct {
	ctx       context.Context
	cat       *workspace.Catalog
	runs      []Run
	refs      []workspace.ReportRun
	inRun     map[int64]bool
	rep       *Report
	docTotals Totals // documents, versions, new and changed documents
}

// Build makes the report of runs from the catalog they wrote to. For a
// plan, cat is the plan's scratch catalog; for a past run, the store's.
// The report's long lists (items, documents, duplicates, skipped items)
// are read again from cat when it is written, so cat must stay open
// until then.
func Build(ctx context.Context, cat *workspace.Catalog, runs []Run) (*Report, error) {
	b := &builder{ctx: ctx, cat: cat, runs: runs, inRun: map[int64]bool{}}
	for _, r := range runs {
		b.inRun[r.ID] = true
		b.refs = append(b.refs, workspace.ReportRun{ID: r.ID, Job: r.Job})
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
	if err := b.buildDocuments(); err != nil {
		return nil, err
	}
	if err := b.buildDuplicates(); err != nil {
		return nil, err
	}
	if err := b.buildReasons(); err != nil {
		return nil, err
	}
	b.buildTotals()
	b.volatile()
	return b.rep, nil
}

// eachItem calls fn with every item the runs recorded, in report order
// (source, ref, name, size, then run).
func (b *builder) eachItem(fn func(workspace.ReportItem, Item) error) error {
	if len(b.refs) == 0 {
		return nil
	}
	err := b.cat.ReportItems(b.ctx, b.refs, func(ri workspace.ReportItem) error { return fn(ri, b.item(ri)) })
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// item is the report's row for a stored item. Which of several items
// with one new content is "new" depends on which fetch finished first, so
// the report names the first in report order and calls the others
// duplicates of it.
func (b *builder) item(ri workspace.ReportItem) Item {
	it := Item{Source: ri.Source, Ref: ri.Ref, Name: ri.Name, Size: ri.Size, Action: ri.Action, Reason: ri.Reason, detail: ri.Detail}
	if ri.Action != string(engine.ActNew) && ri.Action != string(engine.ActDuplicate) {
		return it
	}
	it.SHA256 = ri.Blob.String()
	if ri.NewContent {
		if ri.First {
			it.Action, it.Reason = string(engine.ActNew), ""
		} else {
			it.Action, it.Reason = string(engine.ActDuplicate), "same content as "+ri.FirstSource+": "+ri.FirstName+" (this run)"
		}
	}
	if ri.Sighted {
		it.Workspace = ri.Workspace
		if ri.Placed {
			it.Document, it.DocID, it.Version = joinPath(ri.Place.Folder, ri.Place.Name), ri.Place.Document, ri.Place.Seq
		}
	}
	return it
}

// buildItems counts the items per source and sizes the migration in one
// pass over them; the list itself is read again when written.
//
// A sync reads every item whose content is not already stored under one
// of the hashes its source reports; within one run, a second item with
// the same new content may or may not be read (it depends on timing), so
// BytesToRead is an upper bound.
func (b *builder) buildItems() error {
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
	var n int64
	e := &b.rep.Estimate
	err := b.eachItem(func(ri workspace.ReportItem, it Item) error {
		n++
		addCounts(get(ri.Job, it.Source, ri.Kind), it)
		if it.SHA256 == "" {
			return nil
		}
		if !(strings.HasPrefix(ri.Reason, hashHit) && !ri.NewContent) {
			e.BytesToRead += it.Size
			e.ItemsToRead++
		}
		if it.Action == string(engine.ActNew) { // one per content (see item)
			e.NewContents++
			e.BytesToStore += it.Size
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.rep.Items = List[Item]{Len: n, each: func(fn func(Item) error) error {
		return b.eachItem(func(_ workspace.ReportItem, it Item) error { return fn(it) })
	}}
	if len(b.refs) > 0 {
		per, total, err := b.cat.ReportContents(b.ctx, b.refs)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		for _, pc := range per {
			if i, ok := idx[pc.Job+"\x00"+pc.Source]; ok {
				out[i].DistinctBlobs = pc.Contents
			}
		}
		b.rep.Totals.DistinctBlobs = total
	}
	slices.SortStableFunc(out, func(x, y SourceTotal) int {
		return cmp.Or(cmp.Compare(x.Job, y.Job), cmp.Compare(x.Name, y.Name))
	})
	if out == nil {
		out = []SourceTotal{}
	}
	b.rep.Sources = out
	return nil
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
	t.Documents, t.Versions, t.NewDocuments, t.ChangedDocs = b.docTotals.Documents, b.docTotals.Versions, b.docTotals.NewDocuments, b.docTotals.ChangedDocs
	t.Forks = b.rep.Forks.Len
	t.Conflicts = b.rep.Conflicts.Len
	t.DuplicateGroup = b.rep.Duplicates.Len
}
