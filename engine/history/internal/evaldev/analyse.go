package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/syncd/syncd/engine/history"
)

type truthDoc struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Type     string `json:"type"`
	Generic  bool   `json:"generic"`
	Versions []struct {
		ID      string   `json:"id"`
		SHA     string   `json:"sha256"`
		Parents []string `json:"parents"`
	} `json:"versions"`
}

// analyse prints the Jaccard distribution of true parent/child pairs and the
// closest pairs of different documents, to calibrate thresholds.
func analyse(dir string, contents map[string]history.Content) error {
	raw, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		return err
	}
	var t struct{ Documents []truthDoc }
	if err := json.Unmarshal(raw, &t); err != nil {
		return err
	}
	var edges []float64
	docOf := map[string]string{}
	for _, d := range t.Documents {
		sha := map[string]string{}
		for _, v := range d.Versions {
			sha[v.ID] = v.SHA
			docOf[v.SHA] = d.ID
		}
		for _, v := range d.Versions {
			for _, p := range v.Parents {
				j := history.Jaccard(contents[sha[p]].Sketch, contents[v.SHA].Sketch)
				if j >= 0 {
					edges = append(edges, j)
				}
				if j < 0.5 && j >= 0 {
					fmt.Printf("low edge %s %s->%s %.3f (%d/%d tokens)\n", d.Title, p, v.ID, j, contents[sha[p]].Tokens, contents[v.SHA].Tokens)
				}
			}
		}
	}
	sort.Float64s(edges)
	fmt.Printf("edges n=%d min=%.3f p5=%.3f p50=%.3f\n", len(edges), edges[0], edges[len(edges)/20], edges[len(edges)/2])
	var shas []string
	for s := range docOf {
		if _, ok := contents[s]; ok {
			shas = append(shas, s)
		}
	}
	sort.Strings(shas)
	var cross []float64
	for i := range shas {
		for j := i + 1; j < len(shas); j++ {
			if docOf[shas[i]] == docOf[shas[j]] {
				continue
			}
			x := history.Jaccard(contents[shas[i]].Sketch, contents[shas[j]].Sketch)
			cross = append(cross, x)
			if x > 0.15 {
				fmt.Printf("high cross %s %s %.3f\n", docOf[shas[i]], docOf[shas[j]], x)
			}
		}
	}
	sort.Float64s(cross)
	fmt.Printf("cross n=%d max=%.3f p99.9=%.3f p99=%.3f\n", len(cross), cross[len(cross)-1], cross[len(cross)*999/1000], cross[len(cross)*99/100])
	return nil
}
