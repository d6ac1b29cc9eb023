package sharepoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/syncd/syncd/connectors"
)

// maxResyncs bounds 410 restarts of one drive within one scan.
const maxResyncs = 3

// Scan implements connectors.Source.
func (s *Source) Scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := decodeCursor(cur)
	if err != nil {
		return nil, fmt.Errorf("sharepoint %s: %w", s.name, err)
	}
	drvs, err := s.resolveDrives(ctx)
	if err != nil {
		return nil, fmt.Errorf("sharepoint %s: %w", s.name, err)
	}
	for _, d := range drvs {
		if err := s.scanDrive(ctx, st, d, sink); err != nil {
			return nil, err
		}
	}
	return st.encode(), nil
}

func (s *Source) scanDrive(ctx context.Context, st *cursorState, d driveRef, sink connectors.Sink) error {
	ds := st.Drives[d.ID]
	if ds == nil {
		ds = &driveState{Items: map[string]*itemState{}}
		st.Drives[d.ID] = ds
	}
	ds.Name, ds.Site = d.Name, d.Site
	sc := &driveScan{s: s, st: st, ds: ds, drv: d, sink: sink}
	if err := sc.run(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("sharepoint %s: library %q: %w", s.name, d.Name, err)
	}
	return nil
}

// Parts implements connectors.Partitioner: the configured libraries and
// drives, by drive id.
func (s *Source) Parts(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	drvs, err := s.resolveDrives(ctx)
	if err != nil {
		return nil, fmt.Errorf("sharepoint %s: %w", s.name, err)
	}
	out := make([]string, 0, len(drvs))
	for _, d := range drvs {
		out = append(out, d.ID)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ScanPart implements connectors.Partitioner: Scan of one library, whose
// cursor holds that library's state alone. A library no longer configured
// or found has every item its cursor listed reported gone.
func (s *Source) ScanPart(ctx context.Context, part string, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := decodeCursor(cur)
	if err != nil {
		return nil, fmt.Errorf("sharepoint %s: %w", s.name, err)
	}
	maps.DeleteFunc(st.Drives, func(id string, _ *driveState) bool { return id != part })
	drvs, err := s.resolveDrives(ctx)
	if err != nil {
		return nil, fmt.Errorf("sharepoint %s: %w", s.name, err)
	}
	for _, d := range drvs {
		if d.ID == part {
			if err := s.scanDrive(ctx, st, d, sink); err != nil {
				return nil, err
			}
			return st.encode(), nil
		}
	}
	if ds := st.Drives[part]; ds != nil {
		sc := &driveScan{s: s, st: st, ds: ds, drv: driveRef{ID: part, Name: ds.Name, Site: ds.Site}, sink: sink}
		for _, id := range slices.Sorted(maps.Keys(ds.Items)) {
			it := ds.Items[id]
			if len(it.Seen) == 0 {
				continue
			}
			if err := sc.gone(ctx, id, it, "out-of-scope"); err != nil {
				return nil, err
			}
		}
		delete(st.Drives, part)
	}
	return st.encode(), nil
}

// resolveDrives turns the configured sites, libraries, user drives and
// drive ids into drives.
func (s *Source) resolveDrives(ctx context.Context) ([]driveRef, error) {
	var out []driveRef
	seen := map[string]bool{}
	add := func(d driveRef) {
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d)
		}
	}
	for _, key := range s.opt.siteList() {
		id, err := s.g.site(ctx, key)
		if err != nil {
			return nil, err
		}
		all, err := s.g.siteDrives(ctx, id)
		if err != nil {
			return nil, err
		}
		picked, err := pickLibraries(all, s.opt.Libraries, key)
		if err != nil {
			return nil, err
		}
		for _, d := range picked {
			add(d)
		}
	}
	for _, u := range s.opt.UserDrives {
		d, err := s.g.drive(ctx, "", u)
		if err != nil {
			return nil, err
		}
		add(d)
	}
	for _, id := range s.opt.Drives {
		d, err := s.g.drive(ctx, id, "")
		if err != nil {
			return nil, err
		}
		add(d)
	}
	return out, nil
}

func pickLibraries(all []driveRef, want []string, site string) ([]driveRef, error) {
	if len(want) == 0 {
		return all, nil
	}
	var out []driveRef
	for _, w := range want {
		found := false
		for _, d := range all {
			if strings.EqualFold(d.Name, w) || d.ID == w {
				out = append(out, d)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("site %s has no library %q", site, w)
		}
	}
	return out, nil
}

// driveScan walks one drive's delta feed.
type driveScan struct {
	s    *Source
	st   *cursorState
	ds   *driveState
	drv  driveRef
	sink connectors.Sink
}

func (sc *driveScan) run(ctx context.Context) error {
	if err := sc.retryPending(ctx); err != nil {
		return err
	}
	link, resyncs := sc.ds.Link, 0
	for {
		page, next, delta, err := sc.s.g.deltaPage(ctx, sc.drv.ID, link)
		var se *statusError
		if errors.As(err, &se) && errors.Is(err, errResync) && resyncs < maxResyncs {
			resyncs++
			link = se.Location
			sc.startResync(link)
			continue
		}
		if err != nil {
			return err
		}
		if err := sc.applyPage(ctx, page); err != nil {
			return err
		}
		if next != "" {
			sc.ds.Link, link = next, next
			if err := sc.sink.Checkpoint(ctx, sc.st.encode()); err != nil {
				return err
			}
			continue
		}
		if sc.ds.Resync != 0 {
			if err := sc.finishResync(ctx); err != nil {
				return err
			}
		}
		sc.ds.Link = delta
		return sc.sink.Checkpoint(ctx, sc.st.encode())
	}
}

// startResync begins a re-enumeration after 410: every item seen from now
// on is marked with a new generation; the others are deleted at the end.
func (sc *driveScan) startResync(location string) {
	gen := 1
	for _, it := range sc.ds.Items {
		gen = max(gen, it.Gen+1)
	}
	sc.ds.Resync = gen
	sc.ds.Link = location
	sc.s.log.Info("sharepoint: delta token expired, re-enumerating", "source", sc.s.name, "library", sc.drv.Name, "resync_gen", gen)
}

func (sc *driveScan) finishResync(ctx context.Context) error {
	for id, it := range sc.ds.Items {
		if it.Gen == sc.ds.Resync {
			continue
		}
		if !it.Folder && !it.Root && len(it.Seen) > 0 {
			if err := sc.emitDeleted(ctx, id, it); err != nil {
				return err
			}
		}
		delete(sc.ds.Items, id)
	}
	sc.ds.Resync = 0
	return nil
}

// emitDeleted reports an item and all its versions gone from the library.
func (sc *driveScan) emitDeleted(ctx context.Context, id string, it *itemState) error {
	return sc.gone(ctx, id, it, "deleted")
}

// gone reports an item and all its versions gone, for why.
func (sc *driveScan) gone(ctx context.Context, id string, it *itemState, why string) error {
	return sc.sink.Gone(ctx, connectors.Gone{Ref: sc.itemRef(id), Under: true, Name: joinPath(sc.ds.path(it.Parent), it.Name), Why: why})
}

// outOfScope reports an item that was listed before and now lies outside
// the configured folders (moved there, or its folder was), and forgets
// what was emitted of it: should it come back, it is listed again.
func (sc *driveScan) outOfScope(ctx context.Context, id, path, name string) error {
	st := sc.ds.Items[id]
	if st == nil || len(st.Seen) == 0 {
		return nil
	}
	st.Seen, st.Key, st.Cur = nil, "", 0
	return sc.sink.Gone(ctx, connectors.Gone{Ref: sc.itemRef(id), Under: true, Name: joinPath(path, name), Why: "out-of-scope"})
}

func (sc *driveScan) lineage(itemID, versionID string, idx int, current bool) connectors.Lineage {
	return connectors.Lineage{Kind: "sharepoint", SharePointLineage: connectors.SharePointLineage{Site: sc.drv.Site,
		Drive: sc.drv.ID, DriveName: sc.drv.Name, ItemID: itemID, VersionID: versionID, VersionIndex: idx,
		Current: current}}
}

func (sc *driveScan) logger() *slog.Logger {
	return sc.s.log.With("source", sc.s.name, "library", sc.drv.Name)
}
