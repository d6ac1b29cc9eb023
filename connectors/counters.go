package connectors

// Metered is an optional capability: a connector's counts of its own work
// with the remote. The engine reads them while the source runs (after
// items and checkpoints) and once when it ends, into the run record (as
// "source.<name>") and the metrics. Counters is called from many
// goroutines while the scan runs; every field only grows.
type Metered interface {
	Counters() SourceCounters
}

// SourceCounters are what connectors count. A connector sets the fields
// that mean something for it and leaves the others zero. The JSON names
// are the ones run records store (after "source.").
type SourceCounters struct {
	Requests           int64 `json:"requests"`            // requests sent (Graph)
	DeltaRequests      int64 `json:"delta_requests"`      // of which delta pages (Graph)
	Downloads          int64 `json:"downloads"`           // content downloads started (Graph)
	ResumedDownloads   int64 `json:"resumed_downloads"`   // downloads resumed with a Range request after a drop (Graph)
	Throttled          int64 `json:"throttled"`           // requests or commands the remote throttled
	ThrottleWaitMS     int64 `json:"throttle_wait_ms"`    // time spent waiting because of throttling, milliseconds
	Retries            int64 `json:"retries"`             // requests sent again after a throttle or a dropped connection
	RateLimitSlowdowns int64 `json:"ratelimit_slowdowns"` // pauses on a RateLimit warning before any throttling (Graph)
	Logins             int64 `json:"logins"`              // connections logged in (IMAP)
	Reconnects         int64 `json:"reconnects"`          // connections opened again after a drop (IMAP)
	Examines           int64 `json:"examines"`            // mailboxes opened read-only (IMAP)
	MessagesScanned    int64 `json:"messages_scanned"`    // messages whose structure was read (IMAP)
	PartsFetched       int64 `json:"parts_fetched"`       // message parts read (IMAP)
	Listed             int64 `json:"listed"`              // files listed (share)
	Unchanged          int64 `json:"unchanged"`           // files the cursor showed unchanged, not reported (share)
	Emitted            int64 `json:"emitted"`             // files reported as items (share)
	Skipped            int64 `json:"skipped"`             // files reported with a skip reason (share)
	Opened             int64 `json:"opened"`              // files opened for reading (share)
	ChangedReads       int64 `json:"changed_reads"`       // files that changed while being read (share)
	Problems           int64 `json:"problems"`            // problems the connector reported to the sink
	Gone               int64 `json:"gone"`                // copies found no longer at the source (IMAP, share)
	// ReceivedBytes is the bytes read from the remote: item content,
	// and also re-reads and containers the engine does not store (TNEF).
	// Run records before this name kept it as "bytes_fetched" (IMAP),
	// "bytes_read" (share) or "fetched_bytes" (Graph).
	ReceivedBytes int64 `json:"received_bytes"`
}

// Add adds o to c.
func (c *SourceCounters) Add(o SourceCounters) {
	c.Requests += o.Requests
	c.DeltaRequests += o.DeltaRequests
	c.Downloads += o.Downloads
	c.ResumedDownloads += o.ResumedDownloads
	c.Throttled += o.Throttled
	c.ThrottleWaitMS += o.ThrottleWaitMS
	c.Retries += o.Retries
	c.RateLimitSlowdowns += o.RateLimitSlowdowns
	c.Logins += o.Logins
	c.Reconnects += o.Reconnects
	c.Examines += o.Examines
	c.MessagesScanned += o.MessagesScanned
	c.PartsFetched += o.PartsFetched
	c.Listed += o.Listed
	c.Unchanged += o.Unchanged
	c.Emitted += o.Emitted
	c.Skipped += o.Skipped
	c.Opened += o.Opened
	c.ChangedReads += o.ChangedReads
	c.Problems += o.Problems
	c.Gone += o.Gone
	c.ReceivedBytes += o.ReceivedBytes
}

// Sub returns c - o: what the counters grew by since o was read.
func (c SourceCounters) Sub(o SourceCounters) SourceCounters {
	return SourceCounters{
		Requests:           c.Requests - o.Requests,
		DeltaRequests:      c.DeltaRequests - o.DeltaRequests,
		Downloads:          c.Downloads - o.Downloads,
		ResumedDownloads:   c.ResumedDownloads - o.ResumedDownloads,
		Throttled:          c.Throttled - o.Throttled,
		ThrottleWaitMS:     c.ThrottleWaitMS - o.ThrottleWaitMS,
		Retries:            c.Retries - o.Retries,
		RateLimitSlowdowns: c.RateLimitSlowdowns - o.RateLimitSlowdowns,
		Logins:             c.Logins - o.Logins,
		Reconnects:         c.Reconnects - o.Reconnects,
		Examines:           c.Examines - o.Examines,
		MessagesScanned:    c.MessagesScanned - o.MessagesScanned,
		PartsFetched:       c.PartsFetched - o.PartsFetched,
		Listed:             c.Listed - o.Listed,
		Unchanged:          c.Unchanged - o.Unchanged,
		Emitted:            c.Emitted - o.Emitted,
		Skipped:            c.Skipped - o.Skipped,
		Opened:             c.Opened - o.Opened,
		ChangedReads:       c.ChangedReads - o.ChangedReads,
		Problems:           c.Problems - o.Problems,
		Gone:               c.Gone - o.Gone,
		ReceivedBytes:      c.ReceivedBytes - o.ReceivedBytes,
	}
}
