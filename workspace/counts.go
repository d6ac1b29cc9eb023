package workspace

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/syncd/syncd/connectors"
)

// Counts are what a run, or one source of it, did: the run record's
// counts. They are stored as one flat JSON object, as run records always
// were: each field under its tag, the skip reasons as "skipped.<reason>"
// and the connector's counters as "source.<name>" (those two only when
// not zero).
type Counts struct {
	Scanned         int64 `json:"scanned"`          // items the sources listed
	Known           int64 `json:"known"`            // sighting already stored: nothing to do
	New             int64 `json:"new"`              // content stored for the first time
	Duplicate       int64 `json:"duplicate"`        // content stored already: a new sighting only
	HashHits        int64 `json:"hash_hits"`        // duplicates a remote hash named: not downloaded
	Skipped         int64 `json:"skipped"`          // not documents, or excluded
	Problems        int64 `json:"problems"`         // items that could not be read or stored, and sources that failed
	Gone            int64 `json:"gone"`             // copies found no longer at their source (the store keeps them)
	Fetched         int64 `json:"fetched"`          // items downloaded
	BytesFetched    int64 `json:"bytes_fetched"`    // bytes downloaded
	BytesNew        int64 `json:"bytes_new"`        // bytes of new content
	BytesSaved      int64 `json:"bytes_saved"`      // bytes of duplicates, not stored again
	Retried         int64 `json:"retried"`          // items of the retry list asked for again
	RetriesResolved int64 `json:"retries_resolved"` // of which came off the list
	RetriesPending  int64 `json:"retries_pending"`  // items on the job's retry list after the run (run-wide)
	Repaired        int64 `json:"repaired"`         // text sketches an interrupted run had left out (run-wide)

	// SkippedBy counts skipped items by reason.
	SkippedBy map[string]int64 `json:"-"`
	// Source is the connector's counters (a run's: its sources' summed).
	Source connectors.SourceCounters `json:"-"`
}

// Prefixes of the JSON names of Counts.SkippedBy and Counts.Source.
const (
	skippedPrefix = "skipped."
	sourcePrefix  = "source."
)

// oldSourceNames are connector counters' names in older run records.
var oldSourceNames = map[string]string{
	"bytes_fetched": "received_bytes", // IMAP
	"bytes_read":    "received_bytes", // share
	"fetched_bytes": "received_bytes", // SharePoint
}

// Add adds d to c.
func (c *Counts) Add(d Counts) {
	c.Scanned += d.Scanned
	c.Known += d.Known
	c.New += d.New
	c.Duplicate += d.Duplicate
	c.HashHits += d.HashHits
	c.Skipped += d.Skipped
	c.Problems += d.Problems
	c.Gone += d.Gone
	c.Fetched += d.Fetched
	c.BytesFetched += d.BytesFetched
	c.BytesNew += d.BytesNew
	c.BytesSaved += d.BytesSaved
	c.Retried += d.Retried
	c.RetriesResolved += d.RetriesResolved
	c.RetriesPending += d.RetriesPending
	c.Repaired += d.Repaired
	for k, v := range d.SkippedBy {
		if c.SkippedBy == nil {
			c.SkippedBy = map[string]int64{}
		}
		c.SkippedBy[k] += v
	}
	c.Source.Add(d.Source)
}

// Clone returns a copy of c that shares nothing with it.
func (c Counts) Clone() Counts {
	var out Counts
	out.Add(c)
	return out
}

// countField is one int64 field of Counts or of its Source, by JSON name.
type countField struct {
	name   string
	index  []int
	always bool // written even when zero
}

// countFields lists every int64 field of Counts by its JSON name.
var countFields = sync.OnceValue(func() []countField {
	var out []countField
	ct := reflect.TypeFor[Counts]()
	for i := range ct.NumField() {
		if f := ct.Field(i); f.Type.Kind() == reflect.Int64 {
			out = append(out, countField{name: f.Tag.Get("json"), index: f.Index, always: true})
		}
	}
	src, _ := ct.FieldByName("Source")
	for i := range src.Type.NumField() {
		f := src.Type.Field(i)
		out = append(out, countField{name: sourcePrefix + f.Tag.Get("json"), index: []int{src.Index[0], i}})
	}
	return out
})

// MarshalJSON writes c as the flat object run records store, keys sorted.
func (c Counts) MarshalJSON() ([]byte, error) {
	m := make(map[string]int64, len(countFields())+len(c.SkippedBy))
	v := reflect.ValueOf(c)
	for _, f := range countFields() {
		if n := v.FieldByIndex(f.index).Int(); n != 0 || f.always {
			m[f.name] = n
		}
	}
	for k, n := range c.SkippedBy {
		if n != 0 {
			m[skippedPrefix+k] += n
		}
	}
	return json.Marshal(m)
}

// String lists the counts that are not zero, as name=value by record name.
func (c Counts) String() string {
	var parts []string
	v := reflect.ValueOf(c)
	for _, f := range countFields() {
		if n := v.FieldByIndex(f.index).Int(); n != 0 {
			parts = append(parts, f.name+"="+strconv.FormatInt(n, 10))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.SkippedBy)) {
		parts = append(parts, skippedPrefix+k+"="+strconv.FormatInt(c.SkippedBy[k], 10))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// UnmarshalJSON reads a run record's counts, older records' too. Names it
// does not know are left out.
func (c *Counts) UnmarshalJSON(b []byte) error {
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*c = Counts{}
	byName := map[string][]int{}
	for _, f := range countFields() {
		byName[f.name] = f.index
	}
	v := reflect.ValueOf(c).Elem()
	for k, n := range m {
		if reason, ok := strings.CutPrefix(k, skippedPrefix); ok {
			if c.SkippedBy == nil {
				c.SkippedBy = map[string]int64{}
			}
			c.SkippedBy[reason] += n
			continue
		}
		if name, ok := strings.CutPrefix(k, sourcePrefix); ok {
			if now, old := oldSourceNames[name]; old {
				k = sourcePrefix + now
			}
		}
		if idx, ok := byName[k]; ok {
			f := v.FieldByIndex(idx)
			f.SetInt(f.Int() + n)
		}
	}
	return nil
}
