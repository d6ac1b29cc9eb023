package textsketch

import (
	"strings"
	"testing"
)

func TestSkipHashAndNoDrainGiveTheSameSketch(t *testing.T) {
	text := strings.Repeat("the quarterly report shows growth in every region ", 50)
	full, err := Sketch("r.txt", strings.NewReader(text), int64(len(text)))
	if err != nil {
		t.Fatal(err)
	}
	fast, err := Options{SkipHash: true, NoDrain: true}.Sketch("r.txt", strings.NewReader(text), int64(len(text)))
	if err != nil {
		t.Fatal(err)
	}
	if fast.Blob != "" || full.Blob == "" {
		t.Errorf("SkipHash: Blob=%q, default Blob=%q", fast.Blob, full.Blob)
	}
	if len(full.Sketch) == 0 || len(fast.Sketch) != len(full.Sketch) || fast.Tokens != full.Tokens {
		t.Fatalf("sketches differ: %d/%d tokens, %d/%d hashes", fast.Tokens, full.Tokens, len(fast.Sketch), len(full.Sketch))
	}
	for i := range full.Sketch {
		if full.Sketch[i] != fast.Sketch[i] {
			t.Fatalf("sketch differs at %d", i)
		}
	}
	// An unsupported kind is not read to the end.
	r := &countingReader{s: strings.NewReader(strings.Repeat("x", 1<<20))}
	if _, err := (Options{SkipHash: true, NoDrain: true}).Sketch("a.bin", r, 1<<20); err == nil {
		t.Error("unsupported kind: want an error")
	}
	if r.n >= 1<<20 {
		t.Errorf("NoDrain read all %d bytes of an unsupported file", r.n)
	}
}

type countingReader struct {
	s *strings.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.s.Read(p)
	c.n += n
	return n, err
}
