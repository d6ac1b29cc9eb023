package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/syncd/syncd/engine"
	"github.com/syncd/syncd/workspace"
)

// writePlan writes plan.json for the runs in results.
func writePlan(ctx context.Context, cat *workspace.Catalog, results []*engine.Result, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	type runOut struct {
		Result *engine.Result      `json:"result"`
		Items  []workspace.RunItem `json:"items"`
	}
	var runs []runOut
	for _, r := range results {
		items, err := cat.RunItems(ctx, r.RunID)
		if err != nil {
			return err
		}
		runs = append(runs, runOut{r, items})
	}
	docs, err := cat.Documents(ctx)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(map[string]any{"runs": runs, "documents": docs}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "plan.json"), b, 0o644)
}
