package history_test

import (
	"math/rand"
	"reflect"
	"testing"

	"github.com/syncd/syncd/engine/history"
)

var team = []string{"alice@example.org", "bob@example.org"}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func wantParents(t *testing.T, v view, label string, want map[string]string) {
	t.Helper()
	got := v.parents(label)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parents of %s: got %v, want %v", label, got, want)
	}
}

func TestEvidence(t *testing.T) {
	base := newText(1, 30)
	cases := []struct {
		name  string
		build func(f *fixture)
		check func(t *testing.T, v view)
	}{
		{"identical content is one version", func(f *fixture) {
			f.doc("a", base)
			f.mail("m1", 0, "", nil, team, mailAtt{"a", "Plan v1.docx"})
			f.share("a", "Projects", "Copy of Plan.docx", 5)
		}, func(t *testing.T, v view) {
			if len(v.res.Documents) != 1 || len(v.res.Documents[0].Versions) != 1 {
				t.Fatalf("want 1 document with 1 version, got %+v", v.res.Documents)
			}
			if n := len(v.res.Documents[0].Versions[0].Sightings); n != 3 {
				t.Errorf("sightings %d, want 3", n)
			}
		}},
		{"sharepoint version list is a chain", func(f *fixture) {
			f.doc("a", base)
			f.doc("b", base.edit(2, 3))
			f.doc("c", base.edit(2, 3).edit(3, 7))
			f.sharepoint("ITEM1", 1, "a", 0)
			f.sharepoint("ITEM1", 2, "b", 5)
			f.sharepoint("ITEM1", 3, "b", 6) // properties only: same bytes
			f.sharepoint("ITEM1", 4, "c", 9)
		}, func(t *testing.T, v view) {
			if !v.same("a", "b", "c") || len(v.res.Documents[0].Versions) != 3 {
				t.Fatalf("want one document of 3 versions: %+v", v.res.Documents)
			}
			wantParents(t, v, "b", map[string]string{"a": history.ReasonSharePoint})
			wantParents(t, v, "c", map[string]string{"b": history.ReasonSharePoint})
		}},
		{"reply attachment descends from the parent message's", func(f *fixture) {
			f.doc("a", base)
			f.doc("b", base.edit(2, 4))
			f.mail("m1", 0, "", nil, team, mailAtt{"a", "Budget v1.xlsx"})
			f.mail("m2", 3, "<m1>", []string{"<m1>"}, team, mailAtt{"b", "Budget v1 BJ.xlsx"})
			f.mail("m3", 4, "", nil, team, mailAtt{"b", "Budget v1 BJ.xlsx"}) // forward: same version
		}, func(t *testing.T, v view) {
			if !v.same("a", "b") || len(v.res.Documents[0].Versions) != 2 {
				t.Fatalf("want one document of 2 versions")
			}
			wantParents(t, v, "b", map[string]string{"a": history.ReasonMailReply})
		}},
		{"generic names never link on name alone", func(f *fixture) {
			f.doc("m1", newText(10, 20))
			f.doc("m2", newText(20, 20))
			f.mail("x1", 0, "", nil, team, mailAtt{"m1", "Minutes.docx"})
			f.mail("x2", 50, "", nil, team, mailAtt{"m2", "Minutes.docx"})
			f.share("m2", "Board/2024-03-05", "Minutes.docx", 60)
		}, func(t *testing.T, v view) {
			if v.same("m1", "m2") || len(v.res.Documents) != 2 {
				t.Errorf("two meetings' minutes must stay two documents: %d documents", len(v.res.Documents))
			}
		}},
		{"generic names without text stay apart", func(f *fixture) {
			f.blob("s1", []byte("scan one"), false)
			f.blob("s2", []byte("scan two"), false)
			f.share("s1", "Scans", "Scan.pdf", 0)
			f.share("s2", "Scans", "scan (1).pdf", 1)
		}, func(t *testing.T, v view) {
			if v.same("s1", "s2") {
				t.Error("generic names joined without evidence")
			}
		}},
		{"name family joins when text is unknown", func(f *fixture) {
			f.blob("a", []byte("binary one"), false)
			f.blob("b", []byte("binary two"), false)
			f.share("a", "Finance", "Estates Cost Model v1.xlsb", 0)
			f.share("b", "Finance/Archive", "estates_cost_model_v2 FINAL (1).xlsb", 10)
		}, func(t *testing.T, v view) {
			if !v.same("a", "b") {
				t.Fatal("name family not joined")
			}
			wantParents(t, v, "b", map[string]string{"a": history.ReasonName})
		}},
		{"renamed document joins by content", func(f *fixture) {
			f.doc("a", base)
			f.doc("b", base.edit(5, 1, 9))
			f.mail("m1", 0, "", nil, team, mailAtt{"a", "Draft Business Case v1.docx"})
			f.mail("m2", 30, "", nil, team, mailAtt{"b", "Shared Services Business Case v2.docx"})
		}, func(t *testing.T, v view) {
			if !v.same("a", "b") {
				t.Fatal("renamed version not joined")
			}
			wantParents(t, v, "b", map[string]string{"a": history.ReasonContent})
		}},
		{"same title in two unrelated teams", func(f *fixture) {
			f.doc("hr", newText(100, 25))
			f.doc("fin", newText(200, 25))
			f.share("hr", "HR/Policy", "Risk Register.xlsx", 0)
			f.share("fin", "Finance/Transformation", "Risk Register.xlsx", 2)
		}, func(t *testing.T, v view) {
			if v.same("hr", "fin") {
				t.Error("different documents with one title were joined")
			}
		}},
		{"fork: two reviewers edit the same version", func(f *fixture) {
			f.doc("a", base)
			f.doc("b", base.edit(7, 2))
			f.doc("c", base.edit(8, 20))
			f.mail("m1", 0, "", nil, team, mailAtt{"a", "Plan v1.docx"})
			f.mail("m2", 5, "<m1>", []string{"<m1>"}, team, mailAtt{"b", "Plan v1 BJ.docx"})
			f.mail("m3", 6, "<m1>", []string{"<m1>"}, team, mailAtt{"c", "Plan v1 - Chloé's comments.docx"})
		}, func(t *testing.T, v view) {
			wantParents(t, v, "b", map[string]string{"a": history.ReasonMailReply})
			wantParents(t, v, "c", map[string]string{"a": history.ReasonMailReply})
		}},
		{"merge: a version carrying both branches' changes", func(f *fixture) {
			f.doc("a", base)
			f.doc("b", base.edit(7, 2, 3))
			f.doc("c", base.edit(8, 20, 21))
			f.doc("m", base.edit(7, 2, 3).edit(8, 20, 21).edit(9, 12))
			f.mail("m1", 0, "", nil, team, mailAtt{"a", "Plan v1.docx"})
			f.mail("m2", 5, "<m1>", []string{"<m1>"}, team, mailAtt{"b", "Plan v1 BJ.docx"})
			f.mail("m3", 6, "<m1>", []string{"<m1>"}, team, mailAtt{"c", "Plan v1 CM.docx"})
			f.mail("m4", 9, "<m3>", []string{"<m1>", "<m3>"}, team, mailAtt{"m", "Plan v2.docx"})
		}, func(t *testing.T, v view) {
			got := v.parents("m")
			if len(got) != 2 || got["b"] == "" || got["c"] == "" {
				t.Errorf("merge parents %v, want b and c", got)
			}
		}},
		{"thread parent corrected by content: reply to the wrong branch", func(f *fixture) {
			f.doc("a", base)
			f.doc("b", base.edit(7, 2, 3))
			f.doc("c", base.edit(8, 20, 21))
			f.doc("d", base.edit(7, 2, 3).edit(9, 12)) // from b, but sent as a reply to c's message
			f.mail("m1", 0, "", nil, team, mailAtt{"a", "Plan v1.docx"})
			f.mail("m2", 5, "<m1>", []string{"<m1>"}, team, mailAtt{"b", "Plan v1 BJ.docx"})
			f.mail("m3", 6, "<m1>", []string{"<m1>"}, team, mailAtt{"c", "Plan v1 CM.docx"})
			f.mail("m4", 9, "<m3>", []string{"<m1>", "<m3>"}, team, mailAtt{"d", "Plan v2.docx"})
		}, func(t *testing.T, v view) {
			if got := keys(v.parents("d")); len(got) != 1 || got[0] != "b" {
				t.Errorf("parents of d %v, want [b]", v.parents("d"))
			}
		}},
		{"revert is kept as its own version", func(f *fixture) {
			f.doc("a", base)
			f.doc("b", base.edit(7, 2))
			f.doc("c", base.edit(9, 25))
			f.mail("m1", 0, "", nil, team, mailAtt{"a", "Plan v1.docx"})
			f.mail("m2", 5, "<m1>", []string{"<m1>"}, team, mailAtt{"b", "Plan v1 BJ.docx"})
			f.mail("m3", 9, "<m2>", []string{"<m1>", "<m2>"}, team, mailAtt{"a", "Copy of Plan v1.docx"})
			f.mail("m4", 12, "<m3>", []string{"<m1>", "<m2>", "<m3>"}, team, mailAtt{"c", "Plan v2 FINAL.docx"})
		}, func(t *testing.T, v view) {
			if n := len(v.res.Documents[v.docOf("a")].Versions); n != 4 {
				t.Fatalf("%d versions, want 4 (a, b, revert to a, c)", n)
			}
			wantParents(t, v, "a#2", map[string]string{"b": history.ReasonMailReply})
			wantParents(t, v, "c", map[string]string{"a#2": history.ReasonMailReply})
		}},
		{"a document never spans workspaces", func(f *fixture) {
			f.doc("a", base)
			f.share("a", "X", "Plan.docx", 0)
			f.add(history.Sighting{Source: "share2", Kind: history.KindShare, Blob: f.blobOf["a"], Name: "Plan.docx",
				Time: f.at(1), Workspace: "legal"})
		}, func(t *testing.T, v view) {
			if len(v.res.Documents) != 2 || v.res.Documents[0].Workspace == v.res.Documents[1].Workspace {
				t.Errorf("want one document per workspace: %+v", v.res.Documents)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.build(f)
			v := f.rebuild()
			tc.check(t, v)
			checkInvariants(t, f.in, v.res)
		})
	}
}

// checkInvariants: every sighting is in exactly one version, seq is 1..n
// with parents first, keys are unique, and the result does not depend on
// input order.
func checkInvariants(t *testing.T, in history.Input, res history.Result) {
	t.Helper()
	seen := map[int64]int{}
	keys := map[string]bool{}
	for _, d := range res.Documents {
		if keys[d.Key] {
			t.Errorf("duplicate document key %s", d.Key)
		}
		keys[d.Key] = true
		seq := map[string]int{}
		for i, v := range d.Versions {
			if v.Seq != i+1 {
				t.Errorf("%s: seq %d at %d", d.Key, v.Seq, i)
			}
			if keys[v.Key] {
				t.Errorf("duplicate version key %s", v.Key)
			}
			keys[v.Key] = true
			for _, p := range v.Parents {
				if s, ok := seq[p.Parent]; !ok || s >= v.Seq {
					t.Errorf("%s: parent %s not earlier in seq", v.Key, p.Parent)
				}
				if p.Reason == "" || p.Confidence <= 0 || p.Confidence > 1 {
					t.Errorf("%s: link %+v lacks reason or confidence", v.Key, p)
				}
			}
			seq[v.Key] = v.Seq
			for _, id := range v.Sightings {
				seen[id]++
			}
		}
	}
	for _, s := range in.Sightings {
		if seen[s.ID] != 1 {
			t.Errorf("sighting %d appears %d times", s.ID, seen[s.ID])
		}
	}
	shuffled := in
	shuffled.Sightings = append([]history.Sighting(nil), in.Sightings...)
	rand.New(rand.NewSource(3)).Shuffle(len(shuffled.Sightings), func(i, j int) {
		shuffled.Sightings[i], shuffled.Sightings[j] = shuffled.Sightings[j], shuffled.Sightings[i]
	})
	if again := history.Rebuild(shuffled); !reflect.DeepEqual(again, res) {
		t.Error("result depends on input order")
	}
}
