package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// procCPU is the CPU seconds of pid and of its children it has reaped
// (utime + stime + cutime + cstime): a server's share of a step is the
// difference before and after it.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return 0, fmt.Errorf("proc %d: short stat", pid)
	}
	var ticks float64
	for _, i := range []int{11, 12, 13, 14} { // fields 14-17 of stat(5)
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	return ticks / clockTicks, nil
}

// childNamed finds a direct child of this process whose command is name
// (the Dovecot master that imaptest started).
func childNamed(name string) (int, error) {
	me := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 2 || s[open+1:end] != name {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == me {
			return strconv.Atoi(filepath.Base(d))
		}
	}
	return 0, fmt.Errorf("no %s process started by this benchmark", name)
}

// serverNote summarises the server CPU seconds spent during each step.
func serverNote(server string, cpu map[string][]float64, keys ...string) string {
	var parts []string
	for i := 0; i+1 < len(keys); i += 2 {
		v := append([]float64(nil), cpu[keys[i+1]]...)
		if len(v) == 0 {
			continue
		}
		sort.Float64s(v)
		parts = append(parts, fmt.Sprintf("%s %.2f s", keys[i], v[len(v)/2]))
	}
	if len(parts) == 0 {
		return ""
	}
	return server + " CPU during the step (median, not in the columns): " + strings.Join(parts, ", ")
}
