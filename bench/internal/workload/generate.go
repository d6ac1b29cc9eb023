package workload

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Spec sizes a workload. Scale multiplies the counts of Default.
type Spec struct {
	Seed       uint64
	Accounts   int   // mail accounts
	Threads    int   // attachment-bearing mail threads
	Docs       int   // documents in the pool shared by mail and share
	ShareDocs  int   // documents filed on the share (with their versions and copies)
	LargeMail  int   // threads carrying one large attachment (forwarded once)
	LargeShare int   // large files on the share (one of them copied to Archive)
	LargeSize  int64 // size of each large item
	MedianSize int64 // median document size (log-normal, 8 KiB - 4 MiB)
	Projects   int   // numbered project folders per account (0: four named ones)
}

// Default is the workload bench/run uses at scale 1 (about 10 minutes for
// the whole benchmark on 2 cores).
func Default(scale float64) Spec {
	n := func(v int) int { return max(1, int(math.Round(float64(v)*scale))) }
	return Spec{
		Seed: 1, Accounts: 4, Threads: n(160), Docs: n(220), ShareDocs: n(260),
		LargeMail: 2, LargeShare: 2, LargeSize: int64(float64(10<<20) * min(1, scale)),
		MedianSize: 96 << 10,
	}
}

// ManySmall is the shape of a department's everyday mail (issue 21): ten
// accounts, each with a dozen project folders besides INBOX and Sent,
// and many small messages (attachments of 8-40 KiB), at scale 1 about
// 850 distinct messages. It has no share and no large items.
func ManySmall(scale float64) Spec {
	n := func(v int) int { return max(1, int(math.Round(float64(v)*scale))) }
	return Spec{
		Seed: 2, Accounts: 10, Threads: n(300), Docs: n(400), ShareDocs: 0,
		MedianSize: 10 << 10, Projects: 12,
	}
}

// Thousand is issue 21's many-small-mailboxes shape: 1,000 accounts
// (at scale 1) with a few small messages each, in INBOX, Sent and four
// project folders.
func Thousand(scale float64) Spec {
	n := func(v int) int { return max(1, int(math.Round(float64(v)*scale))) }
	return Spec{
		Seed: 3, Accounts: n(1000), Threads: n(1000), Docs: n(400), ShareDocs: 0,
		MedianSize: 10 << 10,
	}
}

// Workload is a generated workload on disk.
type Workload struct {
	Spec  Spec
	Mail  string // mail tree: <account>/<mailbox>/<uid>.eml
	Share string // department share
	MailStats
	ShareStats
}

var accountNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"}

// Accounts returns the spec's account names.
func (s Spec) AccountNames() []string {
	var out []string
	for i := range s.Accounts {
		name := accountNames[i%len(accountNames)]
		if i >= len(accountNames) {
			name = fmt.Sprintf("%s%d", name, i/len(accountNames))
		}
		out = append(out, name)
	}
	return out
}

// Generate writes the workload under dir (mail/ and share/), replacing
// what is there.
func Generate(dir string, s Spec) (*Workload, error) {
	w := &Workload{Spec: s, Mail: filepath.Join(dir, "mail"), Share: filepath.Join(dir, "share")}
	for _, d := range []string{w.Mail, w.Share} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	pool := s.pool()
	r := rand.New(rand.NewPCG(s.Seed, 2))
	g := &mailGen{dir: w.Mail, r: r, next: map[string]int{}, tmp: dir, projects: s.Projects}
	if err := g.threads(s, pool); err != nil {
		return nil, err
	}
	w.MailStats = g.stats
	ss, err := writeShare(w.Share, s, pool)
	if err != nil {
		return nil, err
	}
	w.ShareStats = ss
	return w, nil
}

var (
	titles = []string{"Budget Forecast", "Staff Handbook", "Supplier Contract", "Board Report", "Risk Register",
		"Project Plan", "Meeting Minutes", "Business Case", "Training Schedule", "Audit Findings",
		"Lease Agreement", "Energy Review", "Procurement Strategy", "Data Protection Impact Assessment",
		"Quarterly Performance", "Recruitment Plan", "Travel Policy", "Service Delivery Plan", "Tender Evaluation",
		"Records Retention Schedule"}
	exts = []string{".docx", ".docx", ".docx", ".pdf", ".pdf", ".csv", ".txt", ".png", ".zip"}
)

// pool builds the document pool: log-normal sizes around MedianSize, then
// the large items.
func (s Spec) pool() []Doc {
	r := rand.New(rand.NewPCG(s.Seed, 1))
	docs := make([]Doc, 0, s.Docs+s.LargeMail+s.LargeShare)
	for i := range s.Docs {
		size := int64(float64(s.MedianSize) * math.Exp(r.NormFloat64()))
		size = min(max(size, 8<<10), 4<<20)
		title := fmt.Sprintf("%s %d", titles[i%len(titles)], 2020+i/len(titles))
		docs = append(docs, Doc{ID: i, Title: title, Ext: exts[r.IntN(len(exts))], Size: size, seed: s.Seed})
	}
	for i := range s.LargeMail + s.LargeShare {
		ext := ".zip"
		if i%2 == 1 {
			ext = ".mp4"
		}
		docs = append(docs, Doc{ID: s.Docs + i, Title: fmt.Sprintf("Site Survey Recording %d", i+1), Ext: ext, Size: s.LargeSize, seed: s.Seed})
	}
	return docs
}

func seedOf(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var epoch = time.Date(2024, 1, 8, 9, 0, 0, 0, time.UTC)
