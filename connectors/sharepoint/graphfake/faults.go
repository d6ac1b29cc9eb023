package graphfake

import (
	"net/http"
	"strconv"
	"strings"
)

// Fault is what an injected failure does to a request.
type Fault struct {
	// Status, if non-zero, is answered instead of the real response, with
	// a Graph error body (429 activityLimitReached, 503
	// serviceNotAvailable, 410 resyncRequired with a Location that
	// restarts enumeration, others generalException).
	Status int
	// RetryAfter is the Retry-After header value for 429/503 ("0" in tests).
	RetryAfter string
	// Headers are added to the response (e.g. RateLimit-Remaining),
	// also when Status is zero and the request is served normally.
	Headers map[string]string
	// DropAfter, on the download route, sends this many bytes of the body
	// and then drops the connection.
	DropAfter int64
}

// Rule applies a Fault to requests of Route: the first After matching
// requests pass, the next Times (default 1) get the fault.
type Rule struct {
	Route string
	// Path, if set, limits the rule to requests whose URL path contains
	// it (an item id: one item's versions fail).
	Path  string
	After int
	Times int
	Fault Fault
}

type rule struct {
	Rule
	seen int
}

// Inject adds a fault rule.
func (s *Server) Inject(r Rule) {
	if r.Times <= 0 {
		r.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, &rule{Rule: r})
}

// ClearFaults removes all rules.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
}

// record counts a request and returns the fault to apply, if any.
func (s *Server) record(route string, r *http.Request) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userAgent = r.Header.Get("User-Agent")
	if r.Header.Get("Range") != "" {
		s.ranges++
	}
	s.total++
	s.counts[route]++
	var out Fault
	path := r.URL.Path
	for _, r := range s.rules {
		if r.Route != route && r.Route != RouteAny || r.Path != "" && !strings.Contains(path, r.Path) {
			continue
		}
		r.seen++
		if r.seen > r.After && r.seen <= r.After+r.Times && out.Status == 0 && out.DropAfter == 0 {
			out = r.Fault
		}
	}
	return out
}

func (s *Server) fault(w http.ResponseWriter, _ *http.Request, segs []string, f Fault) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch f.Status {
	case http.StatusTooManyRequests:
		s.graphErrorInner(w, f.Status, "activityLimitReached", "The request has been throttled",
			obj{"code": "throttledRequest", "innerError": obj{"code": "quota"}})
	case http.StatusServiceUnavailable:
		s.graphError(w, f.Status, "serviceNotAvailable", "Service unavailable")
	case http.StatusGone:
		t := parse(segs)
		s.mu.Lock()
		d := s.drives[t.drive]
		if d == nil {
			s.mu.Unlock()
			s.graphError(w, http.StatusNotFound, "itemNotFound", "The drive cannot be found.")
			return
		}
		s.resync(w, d)
		s.mu.Unlock()
	default:
		s.graphError(w, f.Status, "generalException", "injected failure "+strconv.Itoa(f.Status))
	}
}

// UserAgent returns the User-Agent of the last request.
func (s *Server) UserAgent() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userAgent
}

// RangeRequests returns how many requests carried a Range header.
func (s *Server) RangeRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ranges
}
