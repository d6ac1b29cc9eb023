package scheduler

import (
	"sort"
	"time"

	"github.com/syncd/syncd/workspace"
)

// jobState is what the scheduler knows about one job name, across reloads.
type jobState struct {
	busy        bool // firing in progress: waiting for jitter or a slot, or running
	running     bool
	since       time.Time
	last        *Event
	lastSuccess time.Time
	runs        int64
	skipped     map[string]int64
}

func (s *Scheduler) stateLocked(name string) *jobState {
	st, ok := s.state[name]
	if !ok {
		st = &jobState{skipped: map[string]int64{}}
		s.state[name] = st
	}
	return st
}

// JobStatus describes one configured job. It holds no connector options,
// so it never carries secrets.
type JobStatus struct {
	Name         string           `json:"name"`
	Workspace    string           `json:"workspace,omitempty"`
	Schedule     string           `json:"schedule,omitempty"`
	Window       string           `json:"window,omitempty"`
	Jitter       string           `json:"jitter,omitempty"`
	Sources      []SourceInfo     `json:"sources"`
	NextRun      *time.Time       `json:"next_run,omitempty"`
	Running      bool             `json:"running"`
	RunningSince *time.Time       `json:"running_since,omitempty"`
	Runs         int64            `json:"runs"`
	Skipped      map[string]int64 `json:"skipped,omitempty"`
	LastSuccess  *time.Time       `json:"last_success,omitempty"`
	Last         *LastRun         `json:"last,omitempty"`
}

// SourceInfo names one source of a job.
type SourceInfo struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Enabled bool   `json:"enabled"`
}

// LastRun is the latest firing that ran (or tried to).
type LastRun struct {
	Trigger  string           `json:"trigger"`
	Outcome  string           `json:"outcome"`
	RunID    int64            `json:"run_id,omitempty"`
	Status   string           `json:"status,omitempty"`
	Started  time.Time        `json:"started"`
	Finished time.Time        `json:"finished"`
	Counts   workspace.Counts `json:"counts,omitzero"`
	Error    string           `json:"error,omitempty"`
}

// Info describes the loaded configuration.
type Info struct {
	ConfigFile string    `json:"config_file"`
	Generation int       `json:"generation"`
	LoadedAt   time.Time `json:"loaded_at"`
	Timezone   string    `json:"timezone"`
	Started    bool      `json:"started"`
	Stopping   bool      `json:"stopping"`
}

// Info reports the loaded configuration's generation (it grows by one per
// successful Load).
func (s *Scheduler) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := Info{Generation: s.gen, LoadedAt: s.loadedAt, Started: s.started, Stopping: s.stopping}
	if s.cfg != nil {
		in.ConfigFile = s.cfg.File
	}
	if s.loc != nil {
		in.Timezone = s.loc.String()
	}
	return in
}

// Jobs reports every configured job, sorted by name.
func (s *Scheduler) Jobs() []JobStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.loc != nil {
		now = now.In(s.loc)
	}
	out := make([]JobStatus, 0, len(s.jobs))
	for name, j := range s.jobs {
		js := JobStatus{Name: name, Workspace: j.Workspace, Schedule: j.Schedule, Window: j.Window}
		if j.Jitter > 0 {
			js.Jitter = j.Jitter.String()
		}
		for _, sc := range j.Sources {
			js.Sources = append(js.Sources, SourceInfo{Name: sc.Name, Type: sc.Type, Enabled: sc.Enabled == nil || *sc.Enabled})
		}
		if sc, ok := s.scheds[name]; ok && !s.stopping {
			next := sc.Next(now)
			js.NextRun = &next
		}
		if st, ok := s.state[name]; ok {
			fillState(&js, st)
		}
		out = append(out, js)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

func fillState(js *JobStatus, st *jobState) {
	js.Running = st.running
	if st.running {
		since := st.since
		js.RunningSince = &since
	}
	js.Runs = st.runs
	if len(st.skipped) > 0 {
		js.Skipped = map[string]int64{}
		for k, v := range st.skipped {
			js.Skipped[k] = v
		}
	}
	if !st.lastSuccess.IsZero() {
		t := st.lastSuccess
		js.LastSuccess = &t
	}
	if ev := st.last; ev != nil {
		lr := &LastRun{Trigger: ev.Trigger, Outcome: ev.Outcome, RunID: ev.RunID, Started: ev.Started, Finished: ev.Finished}
		if ev.Result != nil {
			lr.Status, lr.Counts = ev.Result.Status, ev.Result.Counts
		}
		if ev.Err != nil {
			lr.Error = ev.Err.Error()
		}
		js.Last = lr
	}
}
