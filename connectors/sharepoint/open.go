package sharepoint

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"

	"github.com/rclone/rclone/backend/onedrive/quickxorhash"

	"github.com/syncd/syncd/connectors"
)

// maxResumes bounds Range resumptions of one download.
const maxResumes = 5

// parseRef splits "drive/<d>/item/<i>/version/<v>".
func parseRef(ref connectors.Ref) (drive, item, version string, ok bool) {
	p := strings.Split(string(ref), "/")
	if len(p) != 6 || p[0] != "drive" || p[2] != "item" || p[4] != "version" {
		return "", "", "", false
	}
	return p[1], p[3], p[5], true
}

// Open implements connectors.Source: it streams one version's bytes,
// following the 302 to the pre-authenticated URL without the
// Authorization header and resuming a broken transfer with Range.
func (s *Source) Open(ctx context.Context, it *connectors.Item) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, i, v, ok := parseRef(it.Ref)
	if !ok {
		return nil, fmt.Errorf("sharepoint %s: open %s: not a version ref: %w", s.name, it.Ref, connectors.ErrNotFound)
	}
	dl := &download{ctx: ctx, s: s, ref: it.Ref, size: it.Size,
		current: it.Lineage.Current && it.Lineage.VersionID == v, drive: d, item: i, version: v}
	if q := it.Hashes[connectors.HashQuickXor]; q != "" && dl.current {
		dl.want, dl.qx = q, quickxorhash.New()
	}
	if err := dl.start(0); err != nil {
		return nil, fmt.Errorf("sharepoint %s: open %s (%s): %w", s.name, it.Ref, joinPath(it.Path, it.Name), err)
	}
	s.m.downloads.Add(1)
	return dl, nil
}

// download is a resumable streaming body.
type download struct {
	ctx                  context.Context
	s                    *Source
	ref                  connectors.Ref
	drive, item, version string
	current              bool
	url                  string // pre-authenticated download URL
	body                 io.ReadCloser
	off, size            int64
	resumes              int
	qx                   hash.Hash
	want                 string
}

// location asks Graph for a fresh download URL (the 302 of /content).
func (d *download) location() error {
	req, err := d.s.g.contentRequest(d.ctx, d.drive, d.item, d.version, d.current)
	if err != nil {
		return err
	}
	resp, err := d.s.dl.Do(req)
	if err != nil {
		return wrapNet("get content", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
		d.url = resp.Header.Get("Location")
		return nil
	}
	return httpErr("get content", resp)
}

// start (re)opens the transfer at offset off.
func (d *download) start(off int64) error {
	for attempt := 0; ; attempt++ {
		if d.url == "" {
			if err := d.location(); err != nil {
				return err
			}
		}
		req, err := http.NewRequestWithContext(d.ctx, http.MethodGet, d.url, nil)
		if err != nil {
			return err
		}
		if off > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
		}
		resp, err := d.s.dl.Do(req) // no Authorization: the URL is pre-authenticated
		if err != nil {
			return wrapNet("download", err)
		}
		switch {
		case resp.StatusCode == http.StatusPartialContent && off > 0:
			d.body = resp.Body
			return nil
		case resp.StatusCode == http.StatusOK:
			d.body = resp.Body
			if off > 0 { // Range ignored: skip what we already passed on
				if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
					resp.Body.Close()
					return wrapNet("download", err)
				}
			}
			return nil
		case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
			resp.Body.Close()
			return fmt.Errorf("content shorter than %d bytes: %w", off, connectors.ErrChanged)
		case attempt == 0 && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
			resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone):
			resp.Body.Close()
			d.url = "" // expired pre-authenticated URL: ask for a new one
			continue
		}
		defer resp.Body.Close()
		return httpErr("download", resp)
	}
}

func (d *download) Read(p []byte) (int, error) {
	for {
		n, err := d.body.Read(p)
		d.off += int64(n)
		d.s.m.downloadedBytes.Add(int64(n))
		if d.qx != nil {
			d.qx.Write(p[:n])
		}
		if d.size >= 0 && d.off > d.size {
			return n, fmt.Errorf("sharepoint: %s: more than %d bytes: %w", d.ref, d.size, connectors.ErrChanged)
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF && (d.size < 0 || d.off == d.size):
			return n, d.verify()
		case d.ctx.Err() != nil:
			return n, d.ctx.Err()
		}
		if n > 0 {
			// Hand over what arrived; the next Read resumes.
			d.body.Close()
			d.body = errBody{err}
			return n, nil
		}
		if rerr := d.resume(err); rerr != nil {
			return 0, rerr
		}
	}
}

func (d *download) resume(cause error) error {
	d.body.Close()
	if d.resumes >= maxResumes {
		return connectors.Retryable{Err: fmt.Errorf("sharepoint: %s: download broken at byte %d after %d resumes: %w", d.ref, d.off, d.resumes, cause)}
	}
	d.resumes++
	d.s.m.resumed.Add(1)
	d.s.log.Info("sharepoint: resuming download", "source", d.s.name, "ref", string(d.ref), "offset", d.off, "cause", cause)
	if err := d.start(d.off); err != nil {
		return fmt.Errorf("sharepoint: %s: resume at byte %d: %w", d.ref, d.off, err)
	}
	return nil
}

// verify checks the current version's quickXorHash at the end: /content
// serves whatever is current now, which may be a newer version than the
// one the item describes.
func (d *download) verify() error {
	if d.qx == nil {
		return io.EOF
	}
	got := base64.StdEncoding.EncodeToString(d.qx.Sum(nil))
	d.qx = nil
	if got != d.want {
		return fmt.Errorf("sharepoint: %s: quickXorHash %s, listed %s: %w", d.ref, got, d.want, connectors.ErrChanged)
	}
	return io.EOF
}

func (d *download) Close() error { return d.body.Close() }

type errBody struct{ err error }

func (e errBody) Read([]byte) (int, error) { return 0, e.err }
func (e errBody) Close() error             { return nil }

// httpErr reads a Graph error body from a failed raw response.
func httpErr(op string, resp *http.Response) error {
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	return classify(&statusError{Op: op, Status: resp.StatusCode, Code: body.Error.Code, Message: body.Error.Message})
}

func wrapNet(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return connectors.Retryable{Err: fmt.Errorf("%s: %w", op, err)}
}
