// Package layers holds the check that syncd's packages import only what
// the layering in docs/design.md allows. The rules are written once, here.
package layers

import (
	"bytes"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/syncd/syncd/"

// allowed lists, for each package (or subtree, with "/..."), the syncd
// packages it may import (a "/..." entry allows a subtree). A package no
// rule names fails the check: placing a new package is a decision.
//
// Arrows point down: cmd and bench on top; engine's add-ons (report,
// scheduler) above engine; engine above the store (workspace, dedupe),
// history and text sketches; connectors at the bottom beside the store.
// The exceptions to "a package imports only lower layers" are named:
//   - engine/report and engine/scheduler import engine: they are
//     engine's clients (they render and schedule its runs), placed under
//     engine/ for discovery, not below it;
//   - engine/textsketch imports engine/history for history.Content, the
//     sketch type history consumes (history must not depend on the
//     extractors).
var allowed = map[string][]string{
	"internal/jsonx":            nil,
	"internal/yamlx":            nil,
	"internal/layers":           nil,
	"internal/splitmix":         nil,
	"internal/pgtest":           nil,
	"fixtures/...":              nil,
	"dedupe":                    nil,
	"dedupe/storetest":          {"dedupe"},
	"dedupe/remote":             {"dedupe"},
	"connectors":                nil,
	"connectors/imap/...":       {"connectors", "connectors/imap/..."},
	"connectors/share/...":      {"connectors"},
	"connectors/sharepoint/...": {"connectors", "internal/splitmix"},
	"connectors/memory":         {"connectors"},
	"connectors/connectortest":  {"connectors", "internal/yamlx"},
	"workspace":                 {"connectors", "dedupe"},
	"workspace/historytest":     {"connectors", "dedupe", "workspace"},
	"workspace/catalogtest":     {"connectors", "dedupe", "workspace", "workspace/historytest"},
	"engine/history/...":        {"connectors", "engine/history/...", "engine/textsketch", "internal/splitmix"},
	"engine/textsketch":         {"engine/history", "internal/splitmix"},
	"engine":                    {"connectors", "dedupe", "workspace", "engine/history", "engine/textsketch", "internal/jsonx", "internal/yamlx"},
	"engine/report/...":         {"engine", "engine/history", "engine/report/...", "workspace", "dedupe", "internal/jsonx"},
	"engine/scheduler":          {"engine", "workspace"},
	"internal/safetext":         {},
	"serve":                     {"dedupe", "engine", "engine/history", "engine/report", "engine/textsketch", "internal/safetext", "workspace"},
	"cmd/syncd":                 {"connectors/...", "dedupe/...", "workspace", "engine/...", "fixtures/...", "internal/jsonx", "internal/yamlx", "internal/safetext", "serve"},
	"bench/...":                 {"bench/...", "connectors/...", "dedupe/...", "workspace", "engine/...", "internal/jsonx", "internal/yamlx", "internal/pgtest"},
	"deploy":                    {"engine"},
	"eval/...":                  {"connectors/...", "dedupe/...", "workspace", "engine/...", "fixtures/...", "internal/jsonx", "internal/yamlx"},
}

// ruleFor finds the most specific rule naming pkg: its own, else the
// deepest subtree rule that holds it.
func ruleFor(pkg string) (string, bool) {
	if _, ok := allowed[pkg]; ok {
		return pkg, true
	}
	best := ""
	for k := range allowed {
		base, tree := strings.CutSuffix(k, "/...")
		if tree && (pkg == base || strings.HasPrefix(pkg, base+"/")) && len(k) > len(best) {
			best = k
		}
	}
	return best, best != ""
}

func allows(rule []string, imp string) bool {
	for _, a := range rule {
		base, tree := strings.CutSuffix(a, "/...")
		if imp == base || tree && strings.HasPrefix(imp, base+"/") {
			return true
		}
	}
	return false
}

// TestLayers checks every package's non-test imports against the rules.
func TestLayers(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	var bad []string
	pkgs := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		pkgs++
		key, ok := ruleFor(pkg)
		if !ok {
			bad = append(bad, pkg+": no layering rule (add it to internal/layers)")
			continue
		}
		for _, imp := range f[1:] {
			rel, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			if rel == "cmd/syncd" || !allows(allowed[key], rel) {
				bad = append(bad, pkg+" imports "+rel+" (rule "+key+")")
			}
		}
	}
	if pkgs < 20 {
		t.Fatalf("go list found %d packages: the check ran on the wrong tree", pkgs)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// TestRulesCatchAWrongArrow makes sure the matcher can fail.
func TestRulesCatchAWrongArrow(t *testing.T) {
	key, _ := ruleFor("connectors/imap")
	if allows(allowed[key], "engine") || allows(allowed[key], "workspace") {
		t.Fatal("a connector may import the engine or the store")
	}
	if k, _ := ruleFor("engine/history/internal/synth"); k != "engine/history/..." {
		t.Fatalf("rule for a history subpackage: %q", k)
	}
	if k, _ := ruleFor("engine"); !allows(allowed[k], "workspace") || allows(allowed[k], "engine/report") {
		t.Fatal("engine's rule is wrong")
	}
}
