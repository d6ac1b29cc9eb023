//go:build unix

package engine

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process of this host exists.
func processAlive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
