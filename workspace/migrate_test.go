package workspace_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/syncd/syncd/workspace"
)

// Processes that open a new store at the same moment all succeed: each
// migration is applied once, under the write lock.
func TestConcurrentFirstOpens(t *testing.T) {
	for round := 0; round < 10; round++ {
		path := filepath.Join(t.TempDir(), "catalog.db")
		const n = 6
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		cats := make([]*workspace.Catalog, n)
		for i := range n {
			wg.Go(func() {
				<-start
				cats[i], errs[i] = workspace.Open(context.Background(), path, workspace.Options{})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: open %d: %v", round, i, err)
			}
		}
		var applied int
		if err := cats[0].DB().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&applied); err != nil {
			t.Fatal(err)
		}
		if want := len(workspace.Migrations()); applied != want {
			t.Fatalf("round %d: %d migrations recorded, want %d", round, applied, want)
		}
		for _, c := range cats {
			c.Close()
		}
	}
}
