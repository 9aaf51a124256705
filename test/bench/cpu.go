package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc.
const clockTicks = 100

// cpuGroups names the processes whose CPU time the bench reports; "bench" is
// this process: the in-process operator plus the bench's own client;
// "operator" is the operator binary the scale mode runs.
var cpuGroups = map[string]string{
	"kube-apiserver": "apiserver", "etcd": "etcd",
	"postgres": "backend", "mariadbd": "backend", "redis-server": "backend",
	// nats-server-<version>, cut to the 15 bytes of a comm.
	"nats-server": "backend", "nats-server-v2.": "backend",
	// The operator binary the scale mode runs as a child process.
	"backend-operato": "operator",
}

// processCPU returns the CPU seconds used so far by this process and each
// group of its descendants (the control plane and the backends it started).
// A PostgreSQL backend that exited is counted through its postmaster's
// children's time.
func processCPU() map[string]float64 {
	out := map[string]float64{}
	self := os.Getpid()
	type proc struct {
		ppid  int
		comm  string
		ticks float64
	}
	procs := map[int]proc{}
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(data)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		f := strings.Fields(s[closing+1:])
		if len(f) < 15 {
			continue
		}
		// After the comm: state f[0], ppid f[1], utime f[11], stime f[12],
		// cutime f[13], cstime f[14].
		var ticks float64
		for _, i := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseFloat(f[i], 64)
			ticks += v
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		ppid, _ := strconv.Atoi(f[1])
		procs[pid] = proc{ppid: ppid, comm: s[open+1 : closing], ticks: ticks}
	}
	// descends reports whether pid is self or started by it, a few levels down.
	descends := func(pid int) bool {
		for range 4 {
			if pid == self {
				return true
			}
			pid = procs[pid].ppid
		}
		return false
	}
	for pid, p := range procs {
		group, ok := cpuGroups[p.comm]
		if pid == self {
			group, ok = "bench", true
		}
		if ok && descends(pid) {
			out[group] += p.ticks / clockTicks
		}
	}
	return out
}

// cpuDelta is after minus before, per group.
func cpuDelta(before, after map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}
