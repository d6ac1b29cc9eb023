package workspace_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/workspace"
)

// recordNames are the names run records store counts under, unchanged
// since the counts were a map (connector counters' bytes excepted: see
// TestOldRunRecordDecodes). Renaming one breaks every reader of
// /api/v1/runs and `syncd runs --json`: change this list only on purpose.
var recordNames = []string{
	"bytes_fetched", "bytes_new", "bytes_saved", "duplicate", "fetched", "gone", "hash_hits", "known", "new",
	"problems", "repaired", "retried", "retries_pending", "retries_resolved", "scanned", "skipped",
	"skipped.not-a-document", "skipped.size-limit",
	"source.changed_reads", "source.delta_requests", "source.downloads", "source.emitted", "source.examines",
	"source.gone", "source.listed", "source.logins", "source.messages_scanned", "source.opened", "source.parts_fetched",
	"source.problems", "source.ratelimit_slowdowns", "source.received_bytes", "source.reconnects",
	"source.requests", "source.resumed_downloads", "source.retries", "source.skipped", "source.throttle_wait_ms",
	"source.throttled", "source.unchanged",
}

// everyField gives every int64 field of c (and of c.Source) its own
// value, k times its position, and two skip reasons.
func everyField(k int64) workspace.Counts {
	var c workspace.Counts
	n := int64(0)
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		for i := range v.NumField() {
			switch f := v.Field(i); f.Kind() {
			case reflect.Int64:
				n++
				f.SetInt(n * k)
			case reflect.Struct:
				fill(f)
			}
		}
	}
	fill(reflect.ValueOf(&c).Elem())
	c.SkippedBy = map[string]int64{"not-a-document": 100 * k, "size-limit": 101 * k}
	return c
}

func TestCountsJSONRoundTripsUnderTheRecordNames(t *testing.T) {
	c := everyField(1)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	if !slices.Equal(names, recordNames) {
		t.Errorf("JSON names changed:\n got %q\nwant %q", names, recordNames)
	}
	if m["scanned"] != c.Scanned || m["source.throttle_wait_ms"] != c.Source.ThrottleWaitMS || m["skipped.size-limit"] != 101 {
		t.Errorf("values under the wrong names: %s", b)
	}
	var back workspace.Counts
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, c)
	}

	// Zero counts: the run's own counts are all written (a stable shape
	// for API readers), a connector's and the skip reasons only when set.
	b, _ = json.Marshal(workspace.Counts{New: 2, SkippedBy: map[string]int64{"x": 0}})
	m = nil
	_ = json.Unmarshal(b, &m)
	if _, ok := m["retries_pending"]; !ok || m["new"] != 2 || len(m) != 16 {
		t.Errorf("zero counts written as %s", b)
	}
}

func TestCountsAddEveryField(t *testing.T) {
	c := everyField(1)
	c.Add(everyField(2))
	if want := everyField(3); !reflect.DeepEqual(c, want) {
		t.Errorf("Add missed a field:\n got %+v\nwant %+v", c, want)
	}
	orig := everyField(1)
	cl := orig.Clone()
	cl.SkippedBy["not-a-document"]++
	if orig.SkippedBy["not-a-document"] != 100 || !reflect.DeepEqual(orig, everyField(1)) {
		t.Error("Clone shares the skip reasons with the original")
	}
}

// An old catalog's runs row, written when counts were a map: it decodes
// into the fields, and the connectors' three names for the bytes they
// received add up under the one name they have now.
func TestOldRunRecordDecodes(t *testing.T) {
	c, _ := open(t)
	ctx := context.Background()
	id, err := c.StartRun(ctx, "mig", "sync")
	if err != nil {
		t.Fatal(err)
	}
	old := `{"bytes_fetched":2048,"bytes_new":1024,"bytes_saved":512,"duplicate":3,"fetched":4,"hash_hits":1,"known":7,` +
		`"new":2,"problems":1,"retries_pending":0,"scanned":15,"skipped":3,"skipped.not-a-document":2,"skipped.size-limit":1,` +
		`"source.bytes_fetched":100,"source.bytes_read":20,"source.fetched_bytes":3,"source.throttled":5,"source.throttle_wait_ms":1500,` +
		`"source.logins":2,"source.requests":9,"source.no_longer_counted":4}`
	if _, err := c.DB().ExecContext(ctx, `UPDATE runs SET status = 'problems', counts = ? WHERE id = ?`, old, id); err != nil {
		t.Fatal(err)
	}
	r, err := c.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := workspace.Counts{Scanned: 15, Known: 7, New: 2, Duplicate: 3, HashHits: 1, Skipped: 3, Problems: 1, Fetched: 4,
		BytesFetched: 2048, BytesNew: 1024, BytesSaved: 512,
		SkippedBy: map[string]int64{"not-a-document": 2, "size-limit": 1},
		Source:    connectors.SourceCounters{ReceivedBytes: 123, Throttled: 5, ThrottleWaitMS: 1500, Logins: 2, Requests: 9}}
	if !reflect.DeepEqual(r.Counts, want) {
		t.Errorf("old record decoded as\n %+v\nwant %+v", r.Counts, want)
	}
}
