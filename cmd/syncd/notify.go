package main

import (
	"fmt"
	"log/slog"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// The daemon's messages to systemd (sd_notify, for Type=notify units):
// READY=1 once the store is open, the scheduler started and the status
// server listening; RELOADING=1 and READY=1 around a SIGHUP reload;
// STOPPING=1 when a stop begins; WATCHDOG=1 at half of WatchdogSec=.
// Without $NOTIFY_SOCKET (not under systemd) each is a no-op.

// sdNotify sends state to systemd, logging a failure (never fatal).
func sdNotify(log *slog.Logger, state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// sdReloading is RELOADING=1 with the CLOCK_MONOTONIC time systemd 253+
// wants with it (omitted where there is no such clock).
func sdReloading() string {
	if us, ok := monotonicUsec(); ok {
		return fmt.Sprintf("%s\nMONOTONIC_USEC=%d", sd.SdNotifyReloading, us)
	}
	return sd.SdNotifyReloading
}

// startWatchdog sends WATCHDOG=1 at half the interval systemd asks for
// (WATCHDOG_USEC), each time alive returns, until the returned stop is
// called. alive takes the scheduler's lock, so a wedged scheduler stops the
// pings and systemd restarts the daemon.
func startWatchdog(log *slog.Logger, alive func()) (stop func()) {
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog: ignoring WATCHDOG_USEC", "err", err)
	}
	if interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			alive()
			sdNotify(log, sd.SdNotifyWatchdog)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
