// Package storetest is the conformance suite every BlobStore passes.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/syncd/syncd/dedupe"
)

// Run checks store against the BlobStore contract. newStore must return an
// empty store each call.
func Run(t *testing.T, newStore func(t *testing.T) dedupe.BlobStore) {
	ctx := context.Background()
	t.Run("PutOpenRoundTrip", func(t *testing.T) {
		s := newStore(t)
		for _, n := range []int{0, 1, 4095, 256 << 10, 1<<20 + 7} {
			data := random(t, n)
			sums, err := s.Put(ctx, bytes.NewReader(data))
			if err != nil {
				t.Fatalf("put %d bytes: %v", n, err)
			}
			if sums.ID != dedupe.Sum(data) || sums.Size != int64(n) || sums.QuickXor == "" {
				t.Fatalf("put %d bytes: sums %+v, want id %s", n, sums, dedupe.Sum(data))
			}
			if got := read(t, s, sums.ID); !bytes.Equal(got, data) {
				t.Fatalf("open %s: %d bytes differ from the %d put", sums.ID.Short(), len(got), n)
			}
			info, err := s.Stat(ctx, sums.ID)
			if err != nil || info.Size != int64(n) {
				t.Fatalf("stat: %+v %v", info, err)
			}
		}
	})
	t.Run("PutTwiceKeepsOne", func(t *testing.T) {
		s := newStore(t)
		data := random(t, 1000)
		for i := 0; i < 3; i++ {
			if _, err := s.Put(ctx, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, s); n != 1 {
			t.Fatalf("walk found %d blobs after putting one content 3 times", n)
		}
	})
	t.Run("ConcurrentSameContent", func(t *testing.T) {
		s := newStore(t)
		data := random(t, 300<<10)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Put(ctx, bytes.NewReader(data))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, s); n != 1 {
			t.Fatalf("%d blobs after concurrent puts of one content", n)
		}
		if got := read(t, s, dedupe.Sum(data)); !bytes.Equal(got, data) {
			t.Fatal("blob damaged by concurrent puts")
		}
	})
	t.Run("FailedPutLeavesNothing", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("source broke")
		_, err := s.Put(ctx, io.MultiReader(bytes.NewReader(random(t, 5000)), errReader{boom}))
		if !errors.Is(err, boom) {
			t.Fatalf("put of a failing reader: err=%v, want it to wrap the reader's error", err)
		}
		if n := count(t, s); n != 0 {
			t.Fatalf("a failed put left %d visible blobs", n)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		s := newStore(t)
		id := dedupe.Sum([]byte("never stored"))
		if ok, err := s.Has(ctx, id); ok || err != nil {
			t.Fatalf("has missing: %v %v", ok, err)
		}
		if _, err := s.Open(ctx, id); !errors.Is(err, dedupe.ErrNotFound) {
			t.Fatalf("open missing: %v", err)
		}
		if _, err := s.Stat(ctx, id); !errors.Is(err, dedupe.ErrNotFound) {
			t.Fatalf("stat missing: %v", err)
		}
		if err := s.Remove(ctx, id); !errors.Is(err, dedupe.ErrNotFound) {
			t.Fatalf("remove missing: %v", err)
		}
	})
	t.Run("WalkAndRemove", func(t *testing.T) {
		s := newStore(t)
		want := map[dedupe.ID]bool{}
		for i := 0; i < 20; i++ {
			sums, err := s.Put(ctx, bytes.NewReader(random(t, 100+i)))
			if err != nil {
				t.Fatal(err)
			}
			want[sums.ID] = true
		}
		got := map[dedupe.ID]bool{}
		if err := s.Walk(ctx, func(in dedupe.Info) error { got[in.ID] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("walk found %d, want %d", len(got), len(want))
		}
		for id := range want {
			if err := s.Remove(ctx, id); err != nil {
				t.Fatal(err)
			}
			if ok, _ := s.Has(ctx, id); ok {
				t.Fatalf("%s still there after remove", id.Short())
			}
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Put(cctx, bytes.NewReader(random(t, 10))); !errors.Is(err, context.Canceled) {
			t.Fatalf("put with cancelled ctx: %v", err)
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func read(t *testing.T, s dedupe.BlobStore, id dedupe.ID) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), id)
	if err != nil {
		t.Fatalf("open %s: %v", id.Short(), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func count(t *testing.T, s dedupe.BlobStore) int {
	n := 0
	if err := s.Walk(context.Background(), func(dedupe.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
