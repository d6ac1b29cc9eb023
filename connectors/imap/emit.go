package imap

import (
	"context"
	"fmt"
	"mime"
	"path"
	"strings"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/imap/tnef"
)

// SkipTNEFContainer marks a winmail.dat whose files are reported instead.
const SkipTNEFContainer = "tnef-container"

// emit reports the parts of one message.
func (sc *scanner) emit(ctx context.Context, mb mailbox, validity uint32, mp *msgPlan) error {
	for i := range mp.parts {
		p := &mp.parts[i]
		if p.TNEF && p.Skip == "" {
			if err := sc.emitTNEF(ctx, mb, validity, mp, p); err != nil {
				return err
			}
			continue
		}
		if err := sc.send(ctx, sc.s.item(mb, validity, mp, p, 0)); err != nil {
			return err
		}
	}
	return nil
}

func (sc *scanner) send(ctx context.Context, it *connectors.Item) error {
	if err := sc.shared.item(ctx, it); err != nil {
		return sinkError{err}
	}
	return nil
}

// emitTNEF lists the files inside a winmail.dat (reading it once, keeping
// only names and sizes) and reports each. When the stream cannot be
// decoded, the problem is reported and winmail.dat itself is the document.
func (sc *scanner) emitTNEF(ctx context.Context, mb mailbox, validity uint32, mp *msgPlan, p *partPlan) error {
	files, err := sc.tnefList(mp.meta.UID, p)
	if err != nil {
		if connectors.IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		perr := fmt.Errorf("part %s (%s): %w", partString(p.Path), p.Name, err)
		if err := sc.problem(ctx, mb, validity, mp.meta.UID, perr); err != nil {
			return err
		}
		plain := *p
		plain.TNEF = false
		plain.Skip = sc.s.cfg.partSkip(plain.Name, plain.MediaType, estimate(&plain))
		return sc.send(ctx, sc.s.item(mb, validity, mp, &plain, 0))
	}
	container := *p
	container.Skip = SkipTNEFContainer
	if err := sc.send(ctx, sc.s.item(mb, validity, mp, &container, 0)); err != nil {
		return err
	}
	for _, f := range files {
		fp := *p
		fp.Name, fp.Size, fp.EncSize, fp.TNEF, fp.Generated = f.Name, f.Size, f.Size, false, false
		if fp.Name == "" {
			fp.Name, fp.Generated = fmt.Sprintf("attachment-%d.bin", f.Index), true
		}
		fp.MediaType = strings.ToLower(f.MediaType)
		if fp.MediaType == "" {
			fp.MediaType = typeByName(fp.Name)
		}
		fp.Skip = sc.s.cfg.partSkip(fp.Name, fp.MediaType, fp.Size)
		if fp.Skip == "" && isCalendar(fp.MediaType, fp.Name) && !boolOr(sc.s.cfg.Attachments.CalendarInvites, false) {
			fp.Skip = SkipCalendar
		}
		if err := sc.send(ctx, sc.s.item(mb, validity, mp, &fp, f.Index)); err != nil {
			return err
		}
	}
	return nil
}

func typeByName(name string) string {
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(name))); t != "" {
		mt, _, _ := mime.ParseMediaType(t)
		return mt
	}
	return "application/octet-stream"
}

func (sc *scanner) tnefList(uid uint32, p *partPlan) ([]tnef.Attachment, error) {
	cn := sc.conn()
	ps, err := fetchPart(cn, uid, p.Path, p.Encoding)
	if err != nil {
		return nil, sc.check(err)
	}
	ps.count = func(n int64) { sc.s.counters.bytes.Add(n) }
	sc.s.counters.parts.Add(1)
	files, lerr := tnef.List(ps)
	cerr := ps.Close()
	if cerr != nil {
		if c := sc.check(cerr); connectors.IsRetryable(c) {
			return nil, c
		}
	}
	if lerr != nil {
		return nil, lerr
	}
	return files, cerr
}
