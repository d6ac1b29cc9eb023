package measure

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

const report = `	Command being timed: "sleep 0"
	User time (seconds): 1.25
	System time (seconds): 0.50
	Percent of CPU this job got: 0%
	Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.50
	Maximum resident set size (kbytes): 2048
	Exit status: 0
`

func TestParse(t *testing.T) {
	s, err := Parse(report)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU != 1750*time.Millisecond || s.MaxRSS != 2<<20 || s.Wall != 62500*time.Millisecond {
		t.Fatalf("parsed %+v", s)
	}
	if _, err := Parse("User time (seconds): 1\n"); err == nil {
		t.Fatal("a report without RSS and wall time parsed")
	}
}

func TestSummarise(t *testing.T) {
	s := Summarise([]Sample{{Wall: 3 * time.Second}, {Wall: time.Second}, {Wall: 2 * time.Second}, {Wall: 10 * time.Second}})
	if s.N != 4 || s.Wall.Median != 2.5 || s.Wall.Min != 1 || s.Wall.Max != 10 {
		t.Fatalf("summary %+v", s.Wall)
	}
}

func requireTime(t *testing.T) {
	if _, err := os.Stat(TimeBin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing (Debian package time)", TimeBin)
		}
		t.Skipf("%s missing (Debian package time)", TimeBin)
	}
}

func TestRunMeasuresACommand(t *testing.T) {
	requireTime(t)
	// A shell that allocates ~64 MB and burns some CPU.
	s, err := Run(context.Background(), Cmd{Name: "work", Args: []string{"sh", "-c", "head -c 67108864 /dev/zero | tr '\\0' a | sort -u >/dev/null"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Wall <= 0 || s.CPU <= 0 || s.MaxRSS < 1<<20 {
		t.Fatalf("sample %+v", s)
	}
}

func TestRunStopsAtTheLimit(t *testing.T) {
	requireTime(t)
	start := time.Now()
	_, err := Run(context.Background(), Cmd{Name: "sleeper", Args: []string{"sh", "-c", "sleep 30; echo done"}, Limit: 300 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("the process group was not killed at the limit (took %s)", time.Since(start))
	}
	if _, err := Run(context.Background(), Cmd{Name: "false", Args: []string{"false"}}); err == nil {
		t.Fatal("a failing command returned no error")
	}
}
