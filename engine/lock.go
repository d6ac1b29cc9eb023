package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncd/syncd/workspace"
)

// Lock names in the catalog. A run holds its job's lock; store maintenance
// (verify, gc) holds the maintenance lock and starts only when no job lock
// is held by a live process. A run that finds maintenance under way gives
// its job lock back and waits; maintenance that finds runs waits for them.
// Each side takes its own lock before it looks at the other's, so at least
// one of two that start together sees the other, and never both go on.
const (
	jobLockPrefix   = "job:"
	maintenanceLock = "store:maintenance"
	// historyLock is held by a history rebuild: two at once (two jobs
	// ending together, a sync and 'syncd history rebuild') could each
	// clear dirty marks the other's indexing had just set.
	historyLock = "store:history"
)

// historyMu serialises the history rebuilds of this process per catalog
// (the catalog lock alone does not: one process is one holder).
var historyMu sync.Map // catalog path -> *sync.Mutex

// lockHistory takes the history lock, in this process and in the store,
// waiting while another holds it; the returned func releases it.
func (e *Engine) lockHistory(ctx context.Context) (func(), error) {
	mu, _ := historyMu.LoadOrStore(e.Catalog.Path(), &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	if e.Holder == "" {
		e.Holder = HolderID()
	}
	for {
		err := e.takeLock(ctx, historyLock)
		if err == nil {
			break
		}
		if errors.Is(err, workspace.ErrLocked) {
			err = waitPoll(ctx)
		}
		if err != nil {
			mu.(*sync.Mutex).Unlock()
			return nil, err
		}
	}
	stop := e.refreshLock(ctx, historyLock)
	return func() {
		stop()
		_ = e.Catalog.Unlock(context.WithoutCancel(ctx), historyLock, e.Holder)
		mu.(*sync.Mutex).Unlock()
	}, nil
}

// lockPoll is how often a process waiting for another's lock looks again
// (the other process cannot signal across the catalog).
var lockPoll = 200 * time.Millisecond

// lockJob takes the job's lock in the store, waiting while store
// maintenance runs. A lock left by a process on this host that no longer
// exists (kill -9, power loss) is taken over at once, so the same command
// resumes without waiting for the lock to expire.
func (e *Engine) lockJob(ctx context.Context, name string) error {
	for {
		if err := e.takeLock(ctx, name); err != nil {
			return err
		}
		m, busy, err := e.liveLock(ctx, maintenanceLock)
		if err != nil || !busy {
			return err
		}
		_ = e.Catalog.Unlock(context.WithoutCancel(ctx), name, e.Holder)
		e.logger().Info("waiting for store maintenance to finish", "holder", m.Holder)
		if err := waitPoll(ctx); err != nil {
			return err
		}
	}
}

// takeLock takes a named lock once, taking it over from a dead process.
func (e *Engine) takeLock(ctx context.Context, name string) error {
	err := e.Catalog.Lock(ctx, name, e.Holder, lockTTL)
	if !errors.Is(err, workspace.ErrLocked) {
		return err
	}
	holder, herr := e.Catalog.LockHolder(ctx, name)
	if herr != nil || !deadHolder(holder) {
		return err
	}
	e.logger().Warn("taking over the lock of a process that died", "lock", name, "holder", holder)
	return e.Catalog.StealLock(ctx, name, holder, e.Holder, lockTTL)
}

// liveLock reports whether a lock is held by another process that may
// still be working: not expired, not a dead process of this host.
func (e *Engine) liveLock(ctx context.Context, name string) (workspace.LockInfo, bool, error) {
	ls, err := e.Catalog.Locks(ctx, name)
	if err != nil {
		return workspace.LockInfo{}, false, err
	}
	for _, l := range ls {
		if l.Name == name && e.live(l) {
			return l, true, nil
		}
	}
	return workspace.LockInfo{}, false, nil
}

func (e *Engine) live(l workspace.LockInfo) bool {
	return l.Holder != e.Holder && l.Expires.After(e.Catalog.Now()) && !deadHolder(l.Holder)
}

// Maintain runs fn while no job runs in the store and none can start: it
// takes the maintenance lock (waiting while another process holds it),
// then waits for the running jobs to end, telling waiting which ones it
// waits for (each time the set changes). The lock is kept fresh while fn
// runs and released after.
func (e *Engine) Maintain(ctx context.Context, waiting func(jobs []workspace.LockInfo), fn func(context.Context) error) error {
	if e.Holder == "" {
		e.Holder = HolderID()
	}
	for {
		err := e.takeLock(ctx, maintenanceLock)
		if err == nil {
			break
		}
		if !errors.Is(err, workspace.ErrLocked) {
			return err
		}
		if err := waitPoll(ctx); err != nil {
			return fmt.Errorf("store maintenance: %w", err)
		}
	}
	stop := e.refreshLock(ctx, maintenanceLock)
	defer func() {
		stop()
		_ = e.Catalog.Unlock(context.WithoutCancel(ctx), maintenanceLock, e.Holder)
	}()
	told := ""
	for {
		ls, err := e.Catalog.Locks(ctx, jobLockPrefix)
		if err != nil {
			return err
		}
		var busy []workspace.LockInfo
		names := ""
		for _, l := range ls {
			if e.live(l) {
				busy = append(busy, l)
				names += l.Name + "\x00"
			}
		}
		if len(busy) == 0 {
			break
		}
		if names != told && waiting != nil {
			waiting(busy)
			told = names
		}
		if err := waitPoll(ctx); err != nil {
			return fmt.Errorf("store maintenance: %w", err)
		}
	}
	return fn(ctx)
}

// every calls fn every d in the background until ctx ends or stop is
// called; stop returns once fn has returned for the last time.
func every(ctx context.Context, d time.Duration, fn func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx)
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

func waitPoll(ctx context.Context) error { return waitPollOr(ctx, nil) }

// waitPollOr is waitPoll that also ends when woken is closed (nil: never).
func waitPollOr(ctx context.Context, woken <-chan struct{}) error {
	t := time.NewTimer(lockPoll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-woken:
		return nil
	case <-t.C:
		return nil
	}
}

// HolderID names this process in locks, units and audit entries:
// host:pid.
func HolderID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// deadHolder reports whether holder is a process of this host that no
// longer runs.
func deadHolder(holder string) bool {
	host, pidText, ok := strings.Cut(holder, ":")
	if !ok {
		return false
	}
	me, _ := os.Hostname()
	pid, err := strconv.Atoi(pidText)
	if host != me || err != nil || pid <= 0 {
		return false
	}
	return !processAlive(pid)
}
