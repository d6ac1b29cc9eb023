package share

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/hash"
	"github.com/rclone/rclone/fs/walk"
	"github.com/rclone/rclone/lib/encoder"
	"github.com/syncd/syncd/connectors"
)

// scan is the state of one Scan.
type scan struct {
	s    *Source
	sink connectors.Sink
	old  keySet // from the cursor
	seen keySet // listed this scan and covered (unchanged or emitted)
	// oldPaths: the cursor's path list (nil: unknown, nothing is found
	// gone); listed: every path listed this scan; paths: the next list
	// (sorted at the end, so an unchanged tree gives the same cursor
	// whatever order folders were listed in); failed: folders that could
	// not be listed (what was in them is not gone).
	oldPaths []byte
	listed   keySet
	paths    []connectors.Ref
	failed   []string
	hashes   []hash.Type
	since    int    // items emitted since the last checkpoint
	top      string // the folder listed ("" for the whole share)
	abort    error  // why the walk stopped
}

// Scan implements connectors.Source. It lists the remote recursively (one
// ListR call where the backend has it, else directories in parallel, up to
// checkers at a time) and reports files whose (path, size, modtime) is not
// in the cursor. It reads no content.
func (s *Source) Scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	return s.scan(ctx, cur, sink, "", -1)
}

// Parts implements connectors.Partitioner: the share's top-level folders,
// and connectors.RootPart for the files beside them.
func (s *Source) Parts(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, ctx, err := s.fs(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := f.List(ctx, "")
	if err != nil {
		return nil, s.wrap("list", "", err)
	}
	out := []string{connectors.RootPart}
	for _, e := range entries {
		if d, ok := e.(fs.Directory); ok {
			out = append(out, d.Remote())
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ScanPart implements connectors.Partitioner: Scan of one top-level
// folder (connectors.RootPart: of the files beside them), whose cursor
// lists that part's files alone. A folder no longer there lists nothing: what its
// cursor listed is reported gone.
func (s *Source) ScanPart(ctx context.Context, part string, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	if part == connectors.RootPart {
		return s.scan(ctx, cur, sink, "", 1)
	}
	if part == "" || strings.Contains(part, "/") {
		return nil, fmt.Errorf("share %s: %q is not a top-level folder", s.name, part)
	}
	return s.scan(ctx, cur, sink, part, -1)
}

// scan lists dir, down to depth levels (-1: all), and reports what changed
// since cur.
func (s *Source) scan(ctx context.Context, cur connectors.Cursor, sink connectors.Sink, dir string, depth int) (connectors.Cursor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := decodeCursor(cur)
	if err != nil {
		return nil, fmt.Errorf("share %s: %w", s.name, err)
	}
	f, ctx, err := s.fs(ctx)
	if err != nil {
		return nil, err
	}
	if ctx, err = s.scanContext(ctx); err != nil {
		return nil, err
	}
	sc := &scan{s: s, sink: sink, old: st.keys, seen: make(keySet, len(st.keys)), hashes: s.hashTypes(f),
		oldPaths: st.paths, listed: make(keySet, len(st.keys)), top: dir}
	werr := walk.Walk(ctx, f, dir, false, depth, func(dir string, entries fs.DirEntries, err error) error {
		return sc.dir(ctx, dir, entries, err)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if sc.abort != nil {
		return nil, sc.abort
	}
	if werr != nil {
		return nil, s.wrap("list", "", werr)
	}
	if err := sc.gone(ctx); err != nil {
		return nil, err
	}
	return encodeCursor(sortedPaths(sc.paths), sc.seen), nil
}

// gone reports the files of the last listing that this one did not list,
// unless their folder could not be listed this time (those stay on the
// list). A moved file is gone at its old path and new at its new one.
func (sc *scan) gone(ctx context.Context) error {
	return eachPath(sc.oldPaths, func(ref connectors.Ref) error {
		if _, ok := sc.listed[pathKey(ref)]; ok {
			return nil
		}
		for _, dir := range sc.failed {
			if strings.HasPrefix(string(ref), dir) {
				sc.paths = append(sc.paths, ref)
				return nil
			}
		}
		sc.s.gone.Add(1)
		return sc.sink.Gone(ctx, connectors.Gone{Ref: ref, Name: string(ref), Why: "deleted"})
	})
}

func (sc *scan) dir(ctx context.Context, dir string, entries fs.DirEntries, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err != nil {
		if dir == sc.top && sc.top != "" && errors.Is(err, fs.ErrorDirNotFound) {
			return nil // a part's folder that is gone: so is every file in it
		}
		return sc.listError(ctx, dir, err)
	}
	for _, e := range entries {
		o, ok := e.(fs.Object)
		if !ok {
			continue
		}
		if err := sc.object(ctx, o); err != nil {
			sc.abort = err
			return err
		}
	}
	return nil
}

// listError: an unreadable folder is a Problem and the scan goes on; an
// unreadable root or a lost connection stops the scan.
func (sc *scan) listError(ctx context.Context, dir string, err error) error {
	werr := sc.s.wrap("list folder", dir+"/", err)
	if dir == sc.top || (kind(err) == nil && retryable(err)) {
		sc.abort = werr
		return werr
	}
	sc.s.problems.Add(1)
	sc.failed = append(sc.failed, string(refOf(dir))+"/")
	sc.s.log.Warn("share: folder not listed", "folder", dir, "err", err)
	p := connectors.Problem{Ref: connectors.Ref(dir + "/"), Name: dir + "/", Err: werr}
	if perr := sc.sink.Problem(ctx, p); perr != nil {
		sc.abort = perr
		return perr
	}
	return nil
}

func (sc *scan) object(ctx context.Context, o fs.Object) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	remote, size, mt := o.Remote(), o.Size(), o.ModTime(ctx)
	key := fileKey(remote, size, mt)
	sc.s.listed.Add(1)
	ref := refOf(remote)
	sc.listed[pathKey(ref)] = struct{}{}
	sc.paths = append(sc.paths, ref)
	if _, ok := sc.old[key]; ok {
		sc.seen[key] = struct{}{}
		sc.s.unchanged.Add(1)
		return nil
	}
	it := sc.s.item(ctx, o, remote, size, mt, sc.hashes)
	if err := sc.sink.Item(ctx, it); err != nil {
		return err
	}
	sc.seen[key] = struct{}{}
	if it.Skip != "" {
		sc.s.skipped.Add(1)
	} else {
		sc.s.emitted.Add(1)
	}
	sc.since++
	if sc.since >= max(sc.s.cfg.CheckpointEvery, (len(sc.old)+len(sc.seen))/16) {
		sc.since = 0
		// Unchanged files stay covered by the old keys; emitted ones by
		// seen. Files not yet listed are not covered unless unchanged.
		// The old path list stands until the listing is complete.
		return sc.sink.Checkpoint(ctx, encodeCursor(sc.oldPaths, sc.old, sc.seen))
	}
	return nil
}

var hashNames = map[hash.Type]string{hash.SHA256: "sha256", hash.SHA1: "sha1", hash.MD5: "md5"}

// refEnc maps names that are not valid UTF-8 (rclone passes their bytes
// through) to a reversible valid UTF-8 form, so Ref and Name are valid
// UTF-8 and Open finds the file again.
var refEnc = encoder.MultiEncoder(encoder.EncodeInvalidUtf8)

func refOf(remote string) connectors.Ref { return connectors.Ref(refEnc.FromStandardPath(remote)) }

func remoteOf(ref connectors.Ref) string { return refEnc.ToStandardPath(string(ref)) }

func (s *Source) item(ctx context.Context, o fs.Object, remote string, size int64, mt time.Time, hashes []hash.Type) *connectors.Item {
	ref := refOf(remote)
	dir, name := path.Split(string(ref))
	it := &connectors.Item{
		Ref: ref, Name: name, Path: strings.TrimSuffix(dir, "/"),
		Size: size, ModTime: mt, MediaType: fs.MimeTypeFromName(remote),
		Fingerprint: fmt.Sprintf("%d:%d", size, mt.UnixNano()),
		Lineage:     connectors.Lineage{Kind: "share", ShareLineage: connectors.ShareLineage{Remote: s.target.display}},
		Skip:        connectors.NoiseReason(name, ""),
		Private:     o,
	}
	if it.Skip != "" {
		return it
	}
	for _, t := range hashes {
		v, err := o.Hash(ctx, t)
		if err != nil || v == "" {
			continue
		}
		if it.Hashes == nil {
			it.Hashes = map[string]string{}
			it.Fingerprint += ":" + hashNames[t] + "=" + v
		}
		it.Hashes[hashNames[t]] = v
	}
	it.Lineage.Owner = s.owner(ctx, o)
	return it
}

// owner is the file's owner where the backend reports one (local: uid).
func (s *Source) owner(ctx context.Context, o fs.Object) string {
	if s.target.backend != "local" {
		return ""
	}
	md, ok := o.(fs.Metadataer)
	if !ok {
		return ""
	}
	m, err := md.Metadata(ctx)
	if err != nil || m["uid"] == "" {
		return ""
	}
	uid := m["uid"]
	if v, ok := s.owners.Load(uid); ok {
		return v.(string)
	}
	name := uid
	if u, err := user.LookupId(uid); err == nil {
		name = u.Username
	}
	s.owners.Store(uid, name)
	return name
}
