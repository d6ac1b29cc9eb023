package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/syncd/syncd/workspace"
)

// lockJob takes the job's lock in the store. A lock left by a process on
// this host that no longer exists (kill -9, power loss) is taken over at
// once, so the same command resumes without waiting for the lock to expire.
func (e *Engine) lockJob(ctx context.Context, name string) error {
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

// holderID names this process: host:pid.
func holderID() string {
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
	err = syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}
