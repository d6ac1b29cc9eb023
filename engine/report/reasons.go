package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/workspace"
)

// linkWhy says in plain words why history linked two versions.
var linkWhy = map[string]string{
	history.ReasonSharePoint: "SharePoint history: consecutive versions of one SharePoint file",
	history.ReasonMailReply:  "same thread: attached to a reply to the message carrying the earlier version",
	history.ReasonMailFwd:    "same thread: the message was forwarded with this version",
	history.ReasonName:       "same name family: the same name apart from version marks (v2, FINAL, Copy of...)",
	history.ReasonContent:    "same content family: most of the text is the same",
	history.ReasonFolder:     "same folder: version-numbered files side by side",
	history.ReasonPinned:     "set by a person",
	history.ReasonRevert:     "reverted: the earlier content came back",
}

// LinkWhy returns the plain-words reason for a history link reason.
func LinkWhy(reason string) string {
	if w, ok := linkWhy[reason]; ok {
		return w
	}
	return reason
}

// itemWhy says in plain words why an item is skipped or unreadable.
var itemWhy = map[string]string{
	"size-limit":            "larger than the size limit",
	"blocked-type":          "a blocked file type",
	"signature-logo":        "an image embedded in a mail body (logo, signature)",
	"inline-part":           "part of a mail body, not an attachment",
	"calendar-invite":       "a calendar invitation",
	"external-body":         "a link to a file kept elsewhere (message/external-body), not the file",
	"forwarded-message":     "a forwarded message (its attachments are taken instead)",
	"nesting-depth":         "nested too deep in forwarded messages",
	"tnef-container":        "a winmail.dat container (its files are taken instead)",
	"filter-date":           "outside the configured dates",
	"filter-from":           "from a sender the filters exclude",
	"filter-to":             "to recipients the filters exclude",
	"filter-subject":        "a subject the filters exclude",
	"deleted-at-source":     "deleted at the source",
	"deleted":               "deleted at the source (the store keeps it)",
	"expunged":              "expunged from the mailbox (the store keeps it)",
	"out-of-scope":          "moved out of the configured folders (the store keeps it)",
	"uidvalidity":           "the mailbox was recreated (new UIDVALIDITY): its old messages are listed again",
	"mailbox-gone":          "the mailbox was deleted, renamed or is no longer selected (the store keeps it)",
	"lockfile":              "an editor lock file",
	"appledouble":           "macOS metadata beside a file (._name), not the file",
	"smime-signature":       "a mail's S/MIME signature, not an attachment",
	"signature-image":       "a picture from a mail body (image001.png, Outlook-….png)",
	"system file":           "an operating system file",
	"temporary file":        "a temporary file",
	"unreadable":            "could not be read (broken message or file)",
	"permission-denied":     "permission denied",
	"vanished":              "gone before it could be read",
	"changed-while-reading": "changed while it was read: taken on the next run",
	"retry-next-run":        "the server was busy or the connection dropped: retried on the next run",
	"source-failed":         "the whole source stopped",
}

// ItemWhy returns the plain-words reason for a skip or problem reason.
func ItemWhy(reason string) string {
	if w, ok := itemWhy[reason]; ok {
		return w
	}
	return strings.ReplaceAll(reason, "-", " ")
}

// buildReasons groups the skipped and unreadable items by reason, most
// common first. Each group holds the first items the page shows; the
// rest are read again when the report is written.
func (b *builder) buildReasons() error {
	b.rep.Skipped, b.rep.Problems = []ReasonGroup{}, []ReasonGroup{}
	if len(b.refs) == 0 {
		return nil
	}
	counts, err := b.cat.ReportReasons(b.ctx, b.refs, string(engine.ActSkip), string(engine.ActProblem))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for _, rc := range counts {
		g := ReasonGroup{Reason: rc.Reason, Why: ItemWhy(rc.Reason), Count: int(rc.Count)}
		var top []NamedItem
		err := b.cat.ReportItemsFor(b.ctx, b.refs, rc.Action, rc.Reason, htmlReasonRows, func(it workspace.RunItem) error {
			top = append(top, namedItem(it))
			return nil
		})
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		action, reason := rc.Action, rc.Reason
		g.Items = List[NamedItem]{Top: top, Len: rc.Count, each: func(fn func(NamedItem) error) error {
			return b.cat.ReportItemsFor(b.ctx, b.refs, action, reason, 0, func(it workspace.RunItem) error { return fn(namedItem(it)) })
		}}
		if rc.Action == string(engine.ActSkip) {
			b.rep.Skipped = append(b.rep.Skipped, g)
		} else {
			b.rep.Problems = append(b.rep.Problems, g)
		}
	}
	for _, gs := range [][]ReasonGroup{b.rep.Skipped, b.rep.Problems} {
		slices.SortFunc(gs, func(x, y ReasonGroup) int {
			return cmp.Or(-cmp.Compare(x.Count, y.Count), cmp.Compare(x.Reason, y.Reason))
		})
	}
	return nil
}

func namedItem(it workspace.RunItem) NamedItem {
	return NamedItem{Source: it.Source, Ref: it.Ref, Name: it.Name, Size: it.Size, Detail: it.Detail}
}

// hashHit is the engine's reason for content matched by a remote hash.
const hashHit = "known content (by "

func (b *builder) volatile() {
	v := &b.rep.Volatile
	v.Runs = []RunInfo{}
	var fetched int64
	var secs float64
	for _, r := range b.runs {
		v.Runs = append(v.Runs, RunInfo{ID: r.ID, Job: r.Job, Mode: r.Mode, Status: r.Status, Started: r.Started, Finished: r.Finished, BytesFetched: r.Counts.BytesFetched})
		if el := r.Finished.Sub(r.Started).Seconds(); el > 0 && !r.Started.IsZero() {
			fetched += r.Counts.BytesFetched
			secs += el
		}
	}
	est := b.rep.Estimate
	switch {
	case est.BytesToRead == 0:
		v.Basis = "Nothing needs to be read: the store already holds every item's content."
	case fetched == 0 || secs == 0:
		v.Basis = "No transfer rate was measured (nothing was read in these runs), so no duration is estimated."
	default:
		v.MeasuredBytesPerSecond = float64(fetched) / secs
		v.EstimatedSeconds = float64(est.BytesToRead) / v.MeasuredBytesPerSecond
		what := "this dry run, which read the content to fingerprint it"
		if b.rep.Kind != "plan" {
			what = "the run"
		}
		el := time.Duration(secs * float64(time.Second)).Round(time.Millisecond)
		v.Basis = fmt.Sprintf("Rate measured during %s: %s read in %s (%s/s).", what, HumanBytes(fetched), el, HumanBytes(int64(v.MeasuredBytesPerSecond)))
	}
}

// HumanBytes formats n as "12.3 MB" (powers of 1000, as file managers and
// spreadsheets do).
func HumanBytes(n int64) string {
	if n < 0 {
		return "unknown"
	}
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
