package tnef

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand"
	"testing"
	"time"
)

// TestMutationsTerminate: 5000 deterministic mutations of valid streams
// never hang and never make List and Open disagree.
func TestMutationsTerminate(t *testing.T) {
	seeds := [][]byte{encode(sample), encode(sample[:1]), encode(nil)}
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 5000; i++ {
		d := append([]byte(nil), seeds[r.Intn(3)]...)
		for j := 0; j < 1+r.Intn(3); j++ {
			switch r.Intn(3) {
			case 0:
				if len(d) > 4 {
					binary.LittleEndian.PutUint32(d[r.Intn(len(d)-4):], r.Uint32())
				}
			case 1:
				if len(d) > 0 {
					d[r.Intn(len(d))] = byte(r.Intn(256))
				}
			case 2:
				if len(d) > 0 {
					k := r.Intn(len(d))
					d = append(d[:k], d[min(len(d), k+r.Intn(20)):]...)
				}
			}
		}
		done := make(chan struct{})
		go func() {
			atts, err := List(bytes.NewReader(d))
			if err == nil {
				for _, a := range atts {
					rr, n, err := Open(bytes.NewReader(d), a.Index)
					if err != nil || n != a.Size {
						t.Errorf("List said %+v, Open: n=%d err=%v", a, n, err)
						continue
					}
					if got, err := io.Copy(io.Discard, rr); err != nil || got != n {
						t.Errorf("attachment %d: read %d of %d: %v", a.Index, got, n, err)
					}
				}
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("hang on %x", d)
		}
	}
}
