package sharepoint

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/syncd/syncd/connectors"
)

var (
	_ connectors.Retrier     = (*Source)(nil)
	_ connectors.Partitioner = (*Source)(nil)
)

// Retry implements connectors.Retrier. A version ref
// ("drive/<d>/item/<i>/version/<v>") is answered by getting the item, its
// folders and its versions through Graph and reporting that version as a
// scan reports it; an item ref ("drive/<d>/item/<i>", as a scan's problems
// carry) by reporting all of its versions, as a scan of a new file does.
// An item, version or library that is gone (404, or not a configured
// library) is a Problem wrapping connectors.ErrNotFound, and any other
// failure about one item a Problem with its ref; throttling that outlasts
// the retries, an authentication failure or an unreachable Graph ends
// Retry with the error.
func (s *Source) Retry(ctx context.Context, refs []connectors.Ref, sink connectors.Sink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	drvs, err := s.resolveDrives(ctx)
	if err != nil {
		return fmt.Errorf("sharepoint %s: %w", s.name, err)
	}
	type asked struct {
		drive, item string
		versions    []string // nil: every version
		whole       bool
		refs        []connectors.Ref
	}
	var order []*asked
	byItem := map[string]*asked{}
	for _, r := range refs {
		d, i, v, ok := parseRef(r)
		if !ok {
			d, i, ok = parseItemRef(r)
		}
		if !ok {
			if err := s.retryProblem(ctx, sink, r, fmt.Errorf("not a ref of this source: %w", connectors.ErrNotFound)); err != nil {
				return err
			}
			continue
		}
		a := byItem[d+"/"+i]
		if a == nil {
			a = &asked{drive: d, item: i}
			byItem[d+"/"+i] = a
			order = append(order, a)
		}
		a.refs = append(a.refs, r)
		if v == "" {
			a.whole = true
		} else {
			a.versions = append(a.versions, v)
		}
	}
	for _, a := range order {
		var drv *driveRef
		for i := range drvs {
			if drvs[i].ID == a.drive {
				drv = &drvs[i]
			}
		}
		if drv == nil {
			for _, r := range a.refs {
				if err := s.retryProblem(ctx, sink, r, fmt.Errorf("library %s is not one of this source's: %w", a.drive, connectors.ErrNotFound)); err != nil {
					return err
				}
			}
			continue
		}
		rs := &retrySink{inner: sink, emitted: map[connectors.Ref]bool{}}
		sc := &driveScan{s: s, st: &cursorState{}, ds: &driveState{Items: map[string]*itemState{}}, drv: *drv, sink: rs}
		err := sc.retryItem(ctx, a.item, a.whole, a.versions)
		var ip itemProblem
		switch {
		case errors.As(err, &ip):
			if tenantWide(ip.err) {
				return fmt.Errorf("sharepoint %s: library %q: %w", s.name, drv.Name, ip.err)
			}
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err // the sink's
		}
		for _, r := range a.refs {
			if rs.emitted[r] || (ip.err == nil && !strings.Contains(string(r), "/version/")) {
				continue
			}
			perr := ip.err
			if perr == nil {
				perr = fmt.Errorf("version %w", connectors.ErrNotFound)
			}
			if err := s.retryProblem(ctx, sink, r, perr); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

func (s *Source) retryProblem(ctx context.Context, sink connectors.Sink, r connectors.Ref, err error) error {
	return sink.Problem(ctx, connectors.Problem{Ref: r, Err: fmt.Errorf("sharepoint %s: retry %s: %w", s.name, r, err)})
}

// parseItemRef splits "drive/<d>/item/<i>".
func parseItemRef(ref connectors.Ref) (drive, item string, ok bool) {
	p := strings.Split(string(ref), "/")
	if len(p) != 4 || p[0] != "drive" || p[2] != "item" || p[1] == "" || p[3] == "" {
		return "", "", false
	}
	return p[1], p[3], true
}

// tenantWide reports an error about Graph or the tenant rather than one
// item (throttling, authentication, no answer at all), as a scan judges
// it: Retry returns it, the refs staying on the engine's list. Any other
// error about an asked item (a 500 on its versions) is that ref's Problem.
func tenantWide(err error) bool {
	var se *statusError
	return throttled(err) || errors.Is(err, errAuth) || connectors.IsRetryable(err) && !errors.As(err, &se)
}

// itemProblem is an error about the asked item (not the sink's).
type itemProblem struct{ err error }

func (p itemProblem) Error() string { return p.err.Error() }

// retryItem gets one item and its folders up to the library root, then
// reports the asked versions (all of them when whole) through the scan's
// own code, so that the items equal the scan's.
func (sc *driveScan) retryItem(ctx context.Context, id string, whole bool, versions []string) error {
	di, err := sc.s.g.item(ctx, sc.drv.ID, id)
	if err != nil {
		return itemProblem{err}
	}
	f := toFileInfo(di)
	for parent, i := f.Parent, 0; parent != "" && i < 64; i++ {
		pi, err := sc.s.g.item(ctx, sc.drv.ID, parent)
		if err != nil {
			return itemProblem{err}
		}
		pf := toFileInfo(pi)
		sc.track(pf)
		if pf.Root {
			break
		}
		parent = pf.Parent
	}
	sc.track(f)
	if f.Deleted {
		return itemProblem{fmt.Errorf("item %s deleted: %w", id, connectors.ErrNotFound)}
	}
	w, err := sc.classify(ctx, f, nil)
	if err != nil || w == nil {
		return err // a skip (reported as the scan does) or out of scope
	}
	sc.listVersions(ctx, []*work{w})
	if w.err != nil {
		if errors.Is(w.err, connectors.ErrPermission) {
			// As a scan does: the file is reported skipped.
			if err := sc.versionsFailed(ctx, w); err != nil {
				return err
			}
		}
		return itemProblem{w.err}
	}
	if whole {
		return sc.emitFile(ctx, w)
	}
	vers := w.vers
	if len(vers) == 0 {
		sum := sha1.Sum([]byte(w.f.key()))
		vers = []verInfo{{ID: "c." + hex.EncodeToString(sum[:6]), Modified: w.f.Modified, Author: w.f.Author, Size: w.f.Size}}
	}
	for j, v := range vers {
		if !slices.Contains(versions, v.ID) {
			continue
		}
		if err := sc.sink.Item(ctx, sc.versionItem(w, v, len(vers)-j, j == 0)); err != nil {
			return err
		}
	}
	return nil
}

// retrySink notes the refs it passes on.
type retrySink struct {
	inner   connectors.Sink
	emitted map[connectors.Ref]bool
}

func (r *retrySink) Item(ctx context.Context, it *connectors.Item) error {
	r.emitted[it.Ref] = true
	return r.inner.Item(ctx, it)
}

func (r *retrySink) Problem(ctx context.Context, p connectors.Problem) error {
	return r.inner.Problem(ctx, p)
}

func (r *retrySink) Checkpoint(context.Context, connectors.Cursor) error { return nil }

func (r *retrySink) Gone(ctx context.Context, g connectors.Gone) error { return r.inner.Gone(ctx, g) }
