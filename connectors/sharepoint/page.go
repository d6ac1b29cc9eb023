package sharepoint

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/syncd/syncd/connectors"
)

// verInfo is what the connector uses of a driveItemVersion.
type verInfo struct {
	ID       string
	Modified time.Time
	Author   string
	Size     int64
	BadTimes string // timestamps Graph sent that are not times (dropped)
}

// work is one file of a page that needs its versions listed or re-emitted.
type work struct {
	f       fileInfo
	path    string
	old     *itemState
	list    bool // list versions (new or changed content)
	vers    []verInfo
	err     error
	renamed bool
}

// applyPage updates the id -> parent/name map with a page of delta items
// (the last occurrence of an id wins), then emits what changed.
func (sc *driveScan) applyPage(ctx context.Context, page []models.DriveItemable) error {
	infos := make([]fileInfo, 0, len(page))
	last := map[string]int{}
	for i, di := range page {
		f := toFileInfo(di)
		infos = append(infos, f)
		last[f.ID] = i
	}
	old := map[string]*itemState{}
	for i, f := range infos {
		if last[f.ID] == i {
			old[f.ID] = sc.track(f)
		}
	}
	lost, err := sc.resolveParents(ctx, infos)
	if err != nil {
		return err
	}
	var todo []*work
	for i, f := range infos {
		if last[f.ID] != i || lost[f.ID] {
			continue
		}
		w, err := sc.classify(ctx, f, old[f.ID])
		if err != nil {
			return err
		}
		if w != nil {
			todo = append(todo, w)
		}
	}
	moved, err := sc.movedDescendants(ctx, infos, old, last)
	if err != nil {
		return err
	}
	todo = append(todo, moved...)
	sc.listVersions(ctx, todo)
	for _, w := range todo {
		if err := sc.emitFile(ctx, w); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// track records an item's parent and name and returns a copy of its
// previous state (nil when new).
func (sc *driveScan) track(f fileInfo) *itemState {
	var prev *itemState
	if o := sc.ds.Items[f.ID]; o != nil {
		c := *o
		prev = &c
	}
	if f.Deleted {
		return prev
	}
	it := sc.ds.Items[f.ID]
	if it == nil {
		it = &itemState{}
		sc.ds.Items[f.ID] = it
	}
	it.Parent, it.Name, it.Root = f.Parent, f.Name, f.Root
	it.Folder, it.Pkg = f.Folder || f.Package != "", f.Package != ""
	if sc.ds.Resync != 0 {
		it.Gen = sc.ds.Resync
	}
	return prev
}

// resolveParents fetches by id the folders above this page's files that
// delta has not listed yet: Graph may list an item before its folder (on a
// later page), and the folder is needed for the item's path and scope.
// Files whose folder is gone by now are returned in lost: not reported
// here, delta reports their deletion or move later.
func (sc *driveScan) resolveParents(ctx context.Context, infos []fileInfo) (map[string]bool, error) {
	var lost map[string]bool
	for _, f := range infos {
		if f.Deleted || f.Root || f.Folder {
			continue
		}
		for id, i := f.Parent, 0; id != "" && i < 64; i++ {
			if p := sc.ds.Items[id]; p != nil {
				if p.Root {
					break
				}
				id = p.Parent
				continue
			}
			di, err := sc.s.g.item(ctx, sc.drv.ID, id)
			if err != nil && !errors.Is(err, connectors.ErrNotFound) {
				return nil, err
			}
			var p fileInfo
			if err == nil {
				p = toFileInfo(di)
			}
			if err != nil || p.Deleted || p.ID != id {
				if lost == nil {
					lost = map[string]bool{}
				}
				lost[f.ID] = true
				break
			}
			p.Folder = p.Folder || (!p.Root && p.Package == "") // only folders hold items
			sc.track(p)
			id = p.Parent
		}
	}
	return lost, nil
}

// classify handles deletions, folders and skips at once and returns the
// files that need versions listed or a rename re-emitted.
func (sc *driveScan) classify(ctx context.Context, f fileInfo, old *itemState) (*work, error) {
	if f.Deleted {
		delete(sc.ds.Items, f.ID)
		if old != nil && len(old.Seen) > 0 {
			return nil, sc.emitDeleted(ctx, f.ID, old)
		}
		return nil, nil
	}
	if f.Root || f.Folder {
		return nil, nil
	}
	path, inPkg := sc.ds.pathPkg(f.Parent)
	if !sc.s.inScope(path) {
		return nil, sc.outOfScope(ctx, f.ID, path, f.Name)
	}
	if f.BadTimes != "" {
		if err := sc.badTimes(ctx, f.ID, joinPath(path, f.Name), f.BadTimes); err != nil {
			return nil, err
		}
	}
	switch {
	case f.Package != "" || inPkg:
		return nil, sc.skipOnce(ctx, f, old, path, "package")
	case !f.File:
		return nil, sc.skipOnce(ctx, f, old, path, "no-content-access")
	}
	if why := connectors.NoiseReason(f.Name, f.Mime); why != "" {
		return nil, sc.skipOnce(ctx, f, old, path, why)
	}
	w := &work{f: f, path: path, old: old}
	if old != nil && old.Key == f.key() && len(old.Seen) > 0 {
		w.renamed = old.Name != f.Name || old.Parent != f.Parent
		if !w.renamed {
			return nil, nil
		}
		return w, nil
	}
	if old != nil && old.Skip != "" && old.Key == f.key() && old.Name == f.Name && old.Parent == f.Parent {
		sc.ds.Items[f.ID].Skip, sc.ds.Items[f.ID].Key = old.Skip, old.Key
		return nil, nil // refused before and unchanged
	}
	w.list = true
	return w, nil
}

// listVersions lists the versions of the files that need it, with at most
// concurrency requests at once (the governor bounds the tenant as a whole).
func (sc *driveScan) listVersions(ctx context.Context, todo []*work) {
	sem := make(chan struct{}, sc.s.opt.Concurrency)
	var wg sync.WaitGroup
	for _, w := range todo {
		if !w.list {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(w *work) {
			defer func() { <-sem; wg.Done() }()
			vs, err := sc.s.g.versions(ctx, sc.drv.ID, w.f.ID)
			w.err = err
			for _, v := range vs {
				w.vers = append(w.vers, verInfo{ID: deref(v.GetId()), Modified: deref(v.GetLastModifiedDateTime()),
					Author: identity(v.GetLastModifiedBy()), Size: deref(v.GetSize()), BadTimes: invalidTimes(v)})
			}
		}(w)
	}
	wg.Wait()
}

// emitFile reports the versions of a file not reported before (oldest
// first), or its current version again after a rename or move.
func (sc *driveScan) emitFile(ctx context.Context, w *work) error {
	st := sc.ds.Items[w.f.ID]
	if w.renamed {
		cur := w.old.Seen[len(w.old.Seen)-1]
		v := verInfo{ID: cur, Modified: w.f.Modified, Author: w.f.Author, Size: w.f.Size}
		return sc.sink.Item(ctx, sc.versionItem(w, v, max(st.Cur, 1), true))
	}
	if w.err != nil {
		return sc.versionsFailed(ctx, w)
	}
	vers := w.vers
	if len(vers) == 0 {
		// Versioning off: the current content stands for itself, named by
		// its content key so that a later change gets a new ref.
		sum := sha1.Sum([]byte(w.f.key()))
		vers = []verInfo{{ID: "c." + hex.EncodeToString(sum[:6]), Modified: w.f.Modified, Author: w.f.Author, Size: w.f.Size}}
	}
	total := len(vers)
	if m := sc.s.opt.MaxVersions; m > 0 && len(vers) > m {
		vers = vers[:m]
	}
	seen := map[string]bool{}
	if w.old != nil {
		for _, id := range w.old.Seen {
			seen[id] = true
		}
	}
	var ids []string
	for j := len(vers) - 1; j >= 0; j-- {
		v := vers[j]
		ids = append(ids, v.ID)
		if seen[v.ID] && !(j == 0 && w.old != nil && (w.old.Name != w.f.Name || w.old.Parent != w.f.Parent)) {
			continue
		}
		if err := sc.sink.Item(ctx, sc.versionItem(w, v, total-j, j == 0)); err != nil {
			return err
		}
		if v.BadTimes != "" {
			if err := sc.badTimes(ctx, w.f.ID, joinPath(w.path, w.f.Name)+" version "+v.ID, v.BadTimes); err != nil {
				return err
			}
		}
	}
	st.Seen, st.Key, st.Cur = ids, w.f.key(), total
	return nil
}

// badTimes reports an item Graph sent unparseable timestamps for: the item
// is listed all the same (the times are not needed to identify content;
// ModTime stays zero when it was the one), the problem names the item.
func (sc *driveScan) badTimes(ctx context.Context, id, name, note string) error {
	sc.logger().Warn("sharepoint: unparseable timestamp", "item", name, "item_id", id, "values", note)
	return sc.sink.Problem(ctx, connectors.Problem{Name: name + " (item " + id + ")",
		Err: fmt.Errorf("%w: %s", errBadTimestamp, note)})
}

func (sc *driveScan) versionsFailed(ctx context.Context, w *work) error {
	switch {
	case errors.Is(w.err, connectors.ErrPermission):
		sc.ds.Items[w.f.ID].Key = w.f.key()
		return sc.skipOnce(ctx, w.f, w.old, w.path, "no-content-access")
	case errors.Is(w.err, connectors.ErrNotFound):
		return nil // gone since the delta page; the next delta reports the deletion
	case throttled(w.err), errors.Is(w.err, errAuth), ctx.Err() != nil:
		return w.err // the tenant, not the item, is the problem: stop and resume later
	}
	sc.ds.Pending = append(sc.ds.Pending, w.f.ID)
	return sc.sink.Problem(ctx, connectors.Problem{Ref: sc.itemRef(w.f.ID), Name: joinPath(w.path, w.f.Name), Err: w.err})
}

func (sc *driveScan) versionItem(w *work, v verInfo, idx int, current bool) *connectors.Item {
	it := &connectors.Item{
		Ref:  connectors.Ref(fmt.Sprintf("drive/%s/item/%s/version/%s", sc.drv.ID, w.f.ID, v.ID)),
		Name: w.f.Name, Path: w.path, Size: v.Size, ModTime: v.Modified, Author: v.Author,
		MediaType: w.f.Mime, Lineage: sc.lineage(w.f.ID, v.ID, idx, current),
	}
	if k := versionKey(w.f.ID, v); k != "" {
		it.Hashes = map[string]string{HashVersionKey: k}
	}
	if current {
		if it.Hashes == nil {
			it.Hashes = map[string]string{}
		}
		if w.f.QuickXor != "" {
			it.Hashes[connectors.HashQuickXor] = w.f.QuickXor
		}
		if w.f.SHA256 != "" {
			it.Hashes[connectors.HashSHA256] = w.f.SHA256
		}
	}
	if m := sc.s.opt.MaxSize; m > 0 && v.Size > m {
		it.Skip = "size-limit"
	}
	return it
}

// HashVersionKey is the Item.Hashes kind of versionKey.
const HashVersionKey = "sp-version"

// versionKey names a version's content where Graph gives no hash (old
// versions never carry one): the item id, the version id, its
// lastModifiedDateTime and size. A version never changes once saved, so
// the key stays valid; it is the same for a copy of the library that keeps
// item ids (another site, or the same library listed again after a 410),
// so each old version is downloaded once. "" when the time is unknown.
func versionKey(itemID string, v verInfo) string {
	if v.Modified.IsZero() || v.Size < 0 || itemID == "" || v.ID == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(itemID + "\x00" + v.ID + "\x00" + v.Modified.UTC().Format(time.RFC3339Nano) + "\x00" + strconv.FormatInt(v.Size, 10)))
	return hex.EncodeToString(sum[:])
}

// skipOnce reports a skipped item unless it was reported with the same
// reason, name and folder before (a 410 re-enumeration sees it again).
func (sc *driveScan) skipOnce(ctx context.Context, f fileInfo, old *itemState, path, why string) error {
	if old != nil && old.Skip == why && old.Name == f.Name && old.Parent == f.Parent {
		sc.ds.Items[f.ID].Skip = why
		return nil
	}
	sc.ds.Items[f.ID].Skip = why
	return sc.emitSkip(ctx, f, path, why)
}

func (sc *driveScan) emitSkip(ctx context.Context, f fileInfo, path, why string) error {
	return sc.sink.Item(ctx, &connectors.Item{Ref: sc.itemRef(f.ID), Name: f.Name, Path: path, Size: f.Size,
		ModTime: f.Modified, Author: f.Author, Skip: why, Lineage: sc.lineage(f.ID, "", 0, false)})
}

func (sc *driveScan) itemRef(id string) connectors.Ref {
	return connectors.Ref(fmt.Sprintf("drive/%s/item/%s", sc.drv.ID, id))
}

// retryPending lists again the versions of files that failed last time.
func (sc *driveScan) retryPending(ctx context.Context) error {
	ids := sc.ds.Pending
	sc.ds.Pending = nil
	var page []models.DriveItemable
	for _, id := range ids {
		di, err := sc.s.g.item(ctx, sc.drv.ID, id)
		switch {
		case errors.Is(err, connectors.ErrNotFound):
			continue
		case err != nil:
			sc.ds.Pending = append(sc.ds.Pending, ids...)
			return err
		}
		page = append(page, di)
	}
	if len(page) == 0 {
		return nil
	}
	return sc.applyPage(ctx, page)
}

func (s *Source) inScope(path string) bool {
	f := s.opt.Folder
	if f == "" {
		return true
	}
	p := strings.ToLower(path)
	f = strings.ToLower(f)
	return p == f || strings.HasPrefix(p, f+"/")
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// throttled reports an error that outlasted the retries of throttling.
func throttled(err error) bool {
	var se *statusError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// movedDescendants handles renamed or moved folders: delta reports only
// the folder, so the files below it (already reported, not in this page)
// are fetched and their current versions reported again with the new path.
func (sc *driveScan) movedDescendants(ctx context.Context, infos []fileInfo, old map[string]*itemState, last map[string]int) ([]*work, error) {
	var out []*work
	for i, f := range infos {
		o := old[f.ID]
		if last[f.ID] != i || !f.Folder || f.Deleted || o == nil || (o.Name == f.Name && o.Parent == f.Parent) {
			continue
		}
		for id, st := range sc.ds.Items {
			if _, inPage := last[id]; inPage || st.Folder || len(st.Seen) == 0 || !sc.below(id, f.ID) {
				continue
			}
			di, err := sc.s.g.item(ctx, sc.drv.ID, id)
			if errors.Is(err, connectors.ErrNotFound) {
				continue
			} else if err != nil {
				return nil, err
			}
			fi := toFileInfo(di)
			path, _ := sc.ds.pathPkg(fi.Parent)
			if !sc.s.inScope(path) {
				if err := sc.outOfScope(ctx, id, path, fi.Name); err != nil {
					return nil, err
				}
				continue
			}
			c := *st
			w := &work{f: fi, path: path, old: &c, renamed: c.Key == fi.key(), list: c.Key != fi.key()}
			out = append(out, w)
		}
	}
	return out, nil
}

// below reports whether item id lies (at any depth) under folder.
func (sc *driveScan) below(id, folder string) bool {
	for i, p := 0, sc.ds.Items[id]; p != nil && i < 64; i++ {
		if p.Parent == folder {
			return true
		}
		p = sc.ds.Items[p.Parent]
	}
	return false
}
