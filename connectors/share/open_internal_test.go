package share

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/syncd/syncd/connectors/connectortest"
)

// At most `transfers` files are open at once: each open reader holds a
// slot until its first Close, and a full Open waits for one.
func TestTransfersBoundOpenFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644)
	}
	src, err := New(connectortest.Config(t, "name: x\ntype: folder\npath: "+dir+"\ntransfers: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*Source)
	defer s.Close()
	rec, _ := connectortest.Scan(t, s, nil)
	var open []io.ReadCloser
	for _, it := range rec.Items[:2] {
		rc, err := s.Open(context.Background(), it)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, rc)
	}
	if len(s.sem) != 2 || cap(s.sem) != 2 {
		t.Fatalf("slots in use %d of %d, want 2 of 2", len(s.sem), cap(s.sem))
	}
	waited := make(chan error, 1)
	go func() {
		rc, err := s.Open(context.Background(), rec.Items[2])
		if err == nil {
			rc.Close()
		}
		waited <- err
	}()
	open[0].Close()
	open[0].Close() // a second Close must not free a second slot
	if err := <-waited; err != nil {
		t.Fatalf("open after a slot was freed: %v", err)
	}
	if len(s.sem) != 1 {
		t.Errorf("slots in use %d after closes, want 1 (the second reader)", len(s.sem))
	}
	open[1].Close()
}
