// Command evaldev reads a gen_corpus.py directory directly (mail as .eml
// files, the share, the SharePoint manifest), builds sightings and content
// sketches as the connectors and the engine would, runs history.Rebuild and
// writes the evaluation export. It is a development tool, not part of syncd.
//
//	go run ./engine/history/internal/evaldev -corpus /tmp/corpus-1 -out /tmp/export-1.json
//	python3 ../shared/eval/score.py --truth /tmp/corpus-1/truth.json --export /tmp/export-1.json
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/syncd/syncd/engine/history"
	"github.com/syncd/syncd/engine/textsketch"
)

func main() {
	dir := flag.String("corpus", "", "gen_corpus.py output directory")
	out := flag.String("out", "", "export JSON to write")
	shuffle := flag.Int64("shuffle", 0, "shuffle the sightings with this seed (determinism check)")
	an := flag.Bool("analyse", false, "print similarity statistics against truth.json")
	flag.Parse()
	if err := run(*dir, *out, *shuffle, *an); err != nil {
		fmt.Fprintln(os.Stderr, "evaldev:", err)
		os.Exit(1)
	}
}

func run(dir, out string, shuffle int64, an bool) error {
	l := &loader{dir: dir, blobs: map[string][]byte{}}
	for _, f := range []func() error{l.loadMail, l.loadShare, l.loadSharePoint} {
		if err := f(); err != nil {
			return err
		}
	}
	contents := map[string]history.Content{}
	blobs := make([]string, 0, len(l.blobs))
	for b := range l.blobs {
		blobs = append(blobs, b)
	}
	sort.Strings(blobs)
	names := map[string]string{}
	for _, s := range l.sightings {
		if _, ok := names[s.Blob]; !ok {
			names[s.Blob] = s.Name
		}
	}
	for _, b := range blobs {
		data := l.blobs[b]
		c, err := textsketch.Sketch(names[b], bytes.NewReader(data), int64(len(data)))
		if err != nil {
			fmt.Fprintln(os.Stderr, "warning:", err)
		}
		contents[b] = c
	}
	if an {
		return analyse(dir, contents)
	}
	in := history.Input{Sightings: append([]history.Sighting(nil), l.sightings...), Contents: contents}
	if shuffle != 0 {
		r := rand.New(rand.NewSource(shuffle))
		r.Shuffle(len(in.Sightings), func(i, j int) { in.Sightings[i], in.Sightings[j] = in.Sightings[j], in.Sightings[i] })
	}
	if prof := os.Getenv("EVALDEV_CPUPROFILE"); prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	res := history.Rebuild(in)
	fmt.Fprintf(os.Stderr, "evaldev: %d sightings, %d blobs, %d documents, rebuild %v\n",
		len(l.sightings), len(blobs), len(res.Documents), time.Since(start).Round(time.Millisecond))
	byID := map[int64]history.Sighting{}
	for _, s := range l.sightings {
		byID[s.ID] = s
	}
	data, err := json.MarshalIndent(history.Export(res, byID), "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, data, 0o644)
}
