package engine

import (
	"testing"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/memory"
)

// transfersSource is a source that says how many items it serves at once.
type transfersSource struct {
	*memory.Source
	n int
}

func (t transfersSource) Transfers() int { return t.n }

var _ connectors.Concurrent = transfersSource{}

// A run fetches as many items at once as the job says; a job that does
// not say takes the source's word (a remote share: 8), else 4.
func TestFetchConcurrency(t *testing.T) {
	src := memory.New("m")
	for _, c := range []struct {
		job  int
		src  connectors.Source
		want int
	}{
		{0, src, 4},
		{0, transfersSource{src, 8}, 8},
		{3, transfersSource{src, 8}, 3},
		{6, src, 6},
		{0, transfersSource{src, 0}, 4},
	} {
		if got := fetchConcurrency(&Job{Concurrency: c.job}, c.src); got != c.want {
			t.Errorf("job concurrency %d, source %T: %d at once, want %d", c.job, c.src, got, c.want)
		}
	}
}
