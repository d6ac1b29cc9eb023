package share_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/syncd/syncd/connectors/connectortest"
)

// The demo share (fixtures/share/dept) scans as the demo expects: lock and
// system files skipped, byte-identical copies in other folders.
func TestDemoFixture(t *testing.T) {
	s := newSource(t, "name: dept\ntype: folder\npath: ../../fixtures/share/dept\n")
	rec, _ := connectortest.Scan(t, s, nil)
	skips := map[string]string{}
	for _, it := range rec.Items {
		if it.Skip != "" {
			skips[string(it.Ref)] = it.Skip
		}
	}
	want := map[string]string{
		"Finance/~$Q3 Report v3 FINAL.xlsx": "lockfile", "HR/~$lock file": "lockfile", "Procurement/Thumbs.db": "system file",
	}
	if fmt.Sprint(skips) != fmt.Sprint(want) {
		t.Errorf("skipped %v, want %v", skips, want)
	}
	got, _ := ingest(t, s, nil)
	if len(got) != 27 {
		t.Fatalf("read %d content items, want 27", len(got))
	}
	byHash := map[string][]string{}
	for _, line := range got {
		i := strings.LastIndexByte(line, ' ')
		ref, sum := line[:i], line[i+1:]
		byHash[sum] = append(byHash[sum], ref)
	}
	groups := map[string]bool{}
	for _, refs := range byHash {
		if len(refs) > 1 {
			groups[strings.Join(refs, " = ")] = true
		}
	}
	for _, g := range []string{
		"Finance/Archive/Q3 Report v1.xlsx = Finance/Q3 Report v1.xlsx",
		"Finance/Copy of Q3 Report.xlsx = Finance/Q3 Report v2.xlsx",
		"Finance/Budget 2024 FINAL (1).docx = Finance/Budget 2024 FINAL.docx",
		"HR/Leave Policy.docx = HR/Old/Leave Policy.docx",
	} {
		if !groups[g] {
			t.Errorf("duplicate group %q missing; groups: %v", g, groups)
		}
	}
	if len(groups) != 7 {
		t.Errorf("%d duplicate groups, want 7: %v", len(groups), groups)
	}
}
