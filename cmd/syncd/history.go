package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/workspace"
)

func init() {
	register(command{
		use:      "history DOC | merge BLOB BLOB... | split BLOB... | relink BLOB [PARENT...] | rebuild | check | caps | text",
		summary:  "show a document's history (history DOC), correct it (merge|split|relink), or maintain it (rebuild|check|caps|text)",
		long:     historyUsage,
		args:     historyArgs,
		flags:    cmdHistory,
		complete: completeCommon,
	})
}

const historyUsage = `usage:
  syncd history [--config F] DOC            show a document's versions, where each was seen and why it is linked
  syncd history merge BLOB BLOB...          the documents holding these contents are one document
  syncd history split BLOB [BLOB...]        these contents form a document of their own
  syncd history relink BLOB [PARENT...]     this version's parents are exactly PARENT... (none: a first version)
  syncd history rebuild [--full]            bring the stored history up to date (--full: every document, not only what changed)
  syncd history check                       compare the stored history with a rebuild of the whole catalog at once
                                            (memory grows with the catalog; exit 1 when they differ)
  syncd history caps                        list the evidence that is too common to group documents (history.key_cap)
  syncd history text                        keep the text of content stored before text was kept for search
                                            (reads each such blob once; run it again after an interruption)
DOC is a document key or part of its name; BLOB is a content sha256 or a unique prefix (8+ hex digits).`

func historyArgs(_ *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usagef("give a document (DOC), or a correction: merge, split or relink")
	}
	return nil
}

func cmdHistory(fs *pflag.FlagSet) runFunc {
	var c common
	c.bind(fs)
	actor := fs.String("actor", "", "who makes the correction (for the audit log; default $USER)")
	note := fs.String("note", "", "why (kept with the correction)")
	full := fs.Bool("full", false, "history rebuild: rebuild every document, not only the ones a sync touched")
	return func(ctx context.Context, rest []string, stdout, stderr io.Writer) error {
		_, st, err := c.openExisting(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		switch rest[0] {
		case history.PinMerge, history.PinSplit, history.PinRelink:
			return pin(ctx, st, rest[0], rest[1:], whoami(*actor), *note, stdout)
		case "rebuild":
			return rebuildHistory(ctx, st, *full, stdout)
		case "check":
			return checkHistory(ctx, st, stdout)
		case "caps":
			return showCaps(ctx, st, stdout)
		case "text":
			done, failed, err := st.engine(c.logger(nil, stderr)).IndexText(ctx, nil)
			fmt.Fprintf(stdout, "kept the text of %d contents", done)
			if failed > 0 {
				fmt.Fprintf(stdout, "; %d could not be read (see the log; syncd verify checks blobs)", failed)
			}
			fmt.Fprintln(stdout)
			return err
		default:
			return showHistory(ctx, st.cat, strings.Join(rest, " "), stdout)
		}
	}
}

func pin(ctx context.Context, st *store, kind string, args []string, actor, note string, stdout io.Writer) error {
	min := map[string]int{history.PinMerge: 2, history.PinSplit: 1, history.PinRelink: 1}[kind]
	if len(args) < min {
		return usagef("history %s needs at least %d content ids\n%s", kind, min, historyUsage)
	}
	ids := make([]string, len(args))
	for i, a := range args {
		id, err := resolveBlob(ctx, st.cat, a)
		if err != nil {
			return usageError{err}
		}
		ids[i] = id
	}
	id, err := applyPin(ctx, st, kind, ids, actor, note)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "recorded %s #%d by %s; history rebuilt\n", kind, id, termSafe(actor))
	return nil
}

// applyPin records a correction (ids[0] its subject, as PinArgs says) and
// rebuilds what it changes: the CLI's and the web interface's.
func applyPin(ctx context.Context, st *store, kind string, ids []string, actor, note string) (int64, error) {
	pa := engine.PinArgs{Blob: ids[0], Blobs: ids[1:], Note: note}
	id, err := st.cat.AddPin(ctx, kind, pa, actor)
	if err != nil {
		return 0, err
	}
	return id, st.engine(nil).Rebuild(ctx)
}

func resolveBlob(ctx context.Context, cat *workspace.Catalog, prefix string) (string, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) < 8 {
		return "", fmt.Errorf("content id %q: give at least 8 hex digits", prefix)
	}
	var found []string
	err := cat.EachBlob(ctx, func(b workspace.BlobRecord) error {
		if strings.HasPrefix(b.Sums.ID.String(), prefix) {
			found = append(found, b.Sums.ID.String())
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("content id %q: no such content in the store", prefix)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("content id %q is ambiguous (%d matches)", prefix, len(found))
}

func showHistory(ctx context.Context, cat *workspace.Catalog, query string, w io.Writer) error {
	// One document at a time: only the matches (and their sightings)
	// are kept.
	var matches []history.Document
	sightings := map[int64]history.Sighting{}
	q := strings.ToLower(query)
	errFound := errors.New("found")
	err := engine.EachHistoryDocument(ctx, cat, func(d history.Document, ss map[int64]history.Sighting) error {
		exact := d.Key == query
		if !exact && !strings.Contains(strings.ToLower(d.Name), q) {
			return nil
		}
		if exact {
			matches, sightings = nil, map[int64]history.Sighting{}
		}
		matches = append(matches, d)
		maps.Copy(sightings, ss)
		if exact {
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return err
	}
	if len(matches) == 0 {
		return usagef("no document matches %q", query)
	}
	sort.Slice(matches, func(i, j int) bool { return len(matches[i].Versions) > len(matches[j].Versions) })
	for _, d := range matches {
		// Every line goes through termSafe: names, folders, authors,
		// subjects and reasons come from senders and share users.
		line := func(format string, a ...any) { fmt.Fprintln(w, termSafe(fmt.Sprintf(format, a...))) }
		line("%s  %s/%s  [%s]  %d versions", d.Key, d.Workspace, strings.TrimPrefix(d.Folder+"/"+d.Name, "/"), d.Workspace, len(d.Versions))
		for _, v := range d.Versions {
			line("  v%d %s  %s  %s  content %s", v.Seq, v.Key, v.Time.Format("2006-01-02 15:04"), v.Author, v.Blob[:12])
			for _, l := range v.Parents {
				line("      from %s: %s (confidence %.2f)", l.Parent, l.Reason, l.Confidence)
			}
			for _, sid := range v.Sightings {
				if s, ok := sightings[sid]; ok {
					line("      seen: %s", seenAt(s))
				}
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}

func seenAt(s history.Sighting) string {
	where := placeOf(s)
	if !s.Gone.IsZero() {
		where += "; no longer at the source since " + s.Gone.Local().Format("2006-01-02 15:04")
	}
	return where
}

func placeOf(s history.Sighting) string {
	l := s.Lineage
	switch s.Kind {
	case "mail":
		return fmt.Sprintf("%s mailbox %s/%s uid %d, from %s, %q, as %q", s.Source, l.Account, l.Mailbox, l.UID, l.From, l.Subject, s.Name)
	case "sharepoint":
		return fmt.Sprintf("%s SharePoint %s item %s version %s, as %q", s.Source, l.DriveName, l.ItemID, l.VersionID, s.Name)
	default:
		return fmt.Sprintf("%s share %s", s.Source, strings.TrimPrefix(s.Path+"/"+s.Name, "/"))
	}
}

func whoami(actor string) string {
	if actor != "" {
		return actor
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}
