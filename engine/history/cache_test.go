package history_test

import (
	"math/rand"
	"reflect"
	"sort"
	"testing"

	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/engine/history/internal/synth"
)

// randomPins makes a few merge, split and relink pins over the input's blobs.
func randomPins(r *rand.Rand, in history.Input, n int) []history.Pin {
	var blobs []string
	for b := range in.Contents {
		blobs = append(blobs, b)
	}
	sort.Strings(blobs)
	kinds := []string{history.PinMerge, history.PinSplit, history.PinRelink}
	var pins []history.Pin
	for i := range n {
		p := history.Pin{ID: int64(i + 1), Kind: kinds[r.Intn(len(kinds))], Blob: blobs[r.Intn(len(blobs))]}
		for range r.Intn(3) {
			p.Blobs = append(p.Blobs, blobs[r.Intn(len(blobs))])
		}
		pins = append(pins, p)
	}
	return pins
}

// TestCacheEqualsScratch: rebuilding a growing catalog through a Cache
// gives exactly what a rebuild from scratch gives, at every step, while
// reusing most documents.
func TestCacheEqualsScratch(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewSource(seed))
		full, _ := synth.Generate(synth.Config{Seed: seed, Docs: 60 + r.Intn(60), MaxVersions: 40})
		if seed%2 == 0 {
			full.Pins = randomPins(r, full, 6)
		}
		c := history.NewCache()
		reused := 0
		cut := 0
		for step := 0; cut < len(full.Sightings); step++ {
			cut = min(len(full.Sightings), cut+1+r.Intn(len(full.Sightings)/4))
			in := full
			in.Sightings = append([]history.Sighting(nil), full.Sightings[:cut]...)
			// a later run may also see an earlier sighting late (ids are not
			// strictly ingest order): drop one now and then
			if step%3 == 1 && cut > 10 {
				i := r.Intn(cut - 1)
				in.Sightings = append(in.Sightings[:i], in.Sightings[i+1:]...)
			}
			r.Shuffle(len(in.Sightings), func(i, j int) { in.Sightings[i], in.Sightings[j] = in.Sightings[j], in.Sightings[i] })
			got, want := c.Rebuild(in), history.Rebuild(in)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d step %d (%d sightings): cached rebuild differs from scratch", seed, step, len(in.Sightings))
			}
			st := c.Stats()
			if st.Reused+st.Built != len(want.Documents) {
				t.Fatalf("stats %+v for %d documents", st, len(want.Documents))
			}
			reused += st.Reused
		}
		c.Rebuild(full)
		again := c.Rebuild(full)
		if st := c.Stats(); st.Built != 0 || !reflect.DeepEqual(again, history.Rebuild(full)) {
			t.Fatalf("seed %d: unchanged input rebuilt %d documents", seed, st.Built)
		}
		if reused == 0 {
			t.Errorf("seed %d: nothing reused", seed)
		}
	}
}

// TestCacheEvidenceOnly: a message arriving in another document changes
// the evidence of a document whose blobs and sightings stay the same; the
// cache must not hand back the stale document.
func TestCacheEvidenceOnly(t *testing.T) {
	base := newText(1, 30)
	f := newFixture(t)
	f.doc("a", base)
	f.doc("a2", base.edit(2, 4))
	f.doc("z", newText(50, 25))
	f.mail("m1", 0, "", nil, team, mailAtt{"a", "Plan v1.docx"})
	f.mail("m3", 9, "<m2>", []string{"<m1>", "<m2>"}, team, mailAtt{"a2", "Plan v2.docx"})
	c := history.NewCache()
	before := c.Rebuild(f.in)
	f.mail("m2", 5, "<m1>", []string{"<m1>"}, team, mailAtt{"z", "Minutes.docx"})
	got, want := c.Rebuild(f.in), history.Rebuild(f.in)
	if reflect.DeepEqual(before.Documents[0], want.Documents[0]) && reflect.DeepEqual(before.Documents[1], want.Documents[1]) {
		t.Fatal("fixture does not change the evidence of the plan")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cached rebuild kept stale evidence:\ngot  %+v\nwant %+v", got, want)
	}
}

// TestOrderIndependentAtScale: a synthetic corpus rebuilt from shuffled
// sightings gives the same result.
func TestOrderIndependentAtScale(t *testing.T) {
	in, _ := synth.Generate(synth.Config{Seed: 21, Docs: 400, MaxVersions: 100})
	want := history.Rebuild(in)
	r := rand.New(rand.NewSource(4))
	shuffled := in
	shuffled.Sightings = append([]history.Sighting(nil), in.Sightings...)
	r.Shuffle(len(shuffled.Sightings), func(i, j int) {
		shuffled.Sightings[i], shuffled.Sightings[j] = shuffled.Sightings[j], shuffled.Sightings[i]
	})
	if got := history.Rebuild(shuffled); !reflect.DeepEqual(got, want) {
		t.Fatal("result depends on the order of the sightings")
	}
	if len(want.Documents) < 300 {
		t.Fatalf("%d documents from 400 synthetic ones", len(want.Documents))
	}
}

// TestCacheTextChange: a blob whose text (sketch) differs from the previous
// rebuild's is not served from the cache.
func TestCacheTextChange(t *testing.T) {
	in, _ := synth.Generate(synth.Config{Seed: 8, Docs: 60, MaxVersions: 10})
	c := history.NewCache()
	c.Rebuild(in)
	changed := in
	changed.Contents = map[string]history.Content{}
	n := 0
	for b, ct := range in.Contents {
		if len(ct.Sketch) > 20 && n < 15 {
			n++
			ct.Sketch = append([]uint64(nil), ct.Sketch[:len(ct.Sketch)/3]...) // a much shorter text
		}
		changed.Contents[b] = ct
	}
	got, want := c.Rebuild(changed), history.Rebuild(changed)
	if !reflect.DeepEqual(got, want) {
		t.Fatal("cached rebuild used stale texts")
	}
	if c.Stats().Built == 0 {
		t.Error("changed texts rebuilt no document")
	}
}
