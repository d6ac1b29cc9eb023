package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/history"
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

func (b *builder) buildReasons() {
	skip, prob := map[string]*ReasonGroup{}, map[string]*ReasonGroup{}
	for _, it := range b.rep.Items {
		var m map[string]*ReasonGroup
		switch it.Action {
		case string(engine.ActSkip):
			m = skip
		case string(engine.ActProblem):
			m = prob
		default:
			continue
		}
		g := m[it.Reason]
		if g == nil {
			g = &ReasonGroup{Reason: it.Reason, Why: ItemWhy(it.Reason)}
			m[it.Reason] = g
		}
		g.Count++
		g.Items = append(g.Items, NamedItem{Source: it.Source, Ref: it.Ref, Name: it.Name, Size: it.Size, Detail: it.detail})
	}
	b.rep.Skipped, b.rep.Problems = groups(skip), groups(prob)
}

func groups(m map[string]*ReasonGroup) []ReasonGroup {
	out := []ReasonGroup{}
	for _, g := range m {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(x, y ReasonGroup) int {
		return cmp.Or(-cmp.Compare(x.Count, y.Count), cmp.Compare(x.Reason, y.Reason))
	})
	return out
}

// hashHit is the engine's reason for content matched by a remote hash.
const hashHit = "known content (by "

// buildEstimate sizes the migration. A sync reads every item whose
// content is not already stored under one of the hashes its source
// reports; within one run, a second item with the same new content may or
// may not be read (it depends on timing), so BytesToRead is an upper bound.
func (b *builder) buildEstimate() {
	e := &b.rep.Estimate
	seen := map[string]bool{}
	for i, it := range b.rep.Items {
		if it.SHA256 == "" {
			continue
		}
		if !(strings.HasPrefix(b.items[i].Reason, hashHit) && !b.newBlob[it.SHA256]) {
			e.BytesToRead += it.Size
			e.ItemsToRead++
		}
		if it.Action == string(engine.ActNew) && !seen[it.SHA256] {
			seen[it.SHA256] = true
			e.NewContents++
			e.BytesToStore += it.Size
		}
	}
	b.volatile()
}

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
