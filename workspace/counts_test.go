package workspace_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

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
