package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/backend-operator/backend-operator/test/harness"
)

// operatorBinary is the file name of the operator built for the scale mode;
// its comm, cut to 15 bytes, is "backend-operato" (see cpuGroups).
const operatorBinary = "backend-operator"

// buildOperator builds ./cmd, the binary a deployment runs, into dir.
func buildOperator(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, operatorBinary)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd: %w\n%s", err, out)
	}
	return bin, nil
}

// operatorProcess is the operator binary running as a child process of the
// bench, so that its memory and CPU are its own, not the bench's.
type operatorProcess struct {
	cmd     *exec.Cmd
	done    chan struct{}
	metrics string
	pprof   string
	bin     string
	logPath string
	started time.Time
}

// startOperatorProcess starts bin with the binary's own flags, the given
// kubeconfig, and the metrics and probe endpoints on free loopback ports;
// it returns once the metrics endpoint answers. Its log goes to logPath.
// memLimit, unless empty, is its GOMEMLIMIT: what the binary sets itself
// from a container's memory limit, which a child process has not.
func startOperatorProcess(ctx context.Context, bin, kubeconfig, logPath, memLimit string, extra ...string) (*operatorProcess, error) {
	metricsPort, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	probePort, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	pprofPort, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	args := append([]string{"--kubeconfig=" + kubeconfig,
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(metricsPort),
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(probePort),
		"--pprof-bind-address=127.0.0.1:" + strconv.Itoa(pprofPort)}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if memLimit != "" {
		cmd.Env = append(os.Environ(), "GOMEMLIMIT="+memLimit)
	}
	// Should the bench die first, the operator goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	p := &operatorProcess{cmd: cmd, done: make(chan struct{}), logPath: logPath,
		metrics: "http://127.0.0.1:" + strconv.Itoa(metricsPort) + "/metrics",
		pprof:   "http://127.0.0.1:" + strconv.Itoa(pprofPort) + "/debug/pprof/"}
	p.started, p.bin = time.Now(), bin
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start the operator: %w", err)
	}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := p.scrape(ctx); err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("the operator exited during start:\n%s", p.logTail())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("the operator's metrics endpoint did not answer within a minute")
		}
	}
}

func (p *operatorProcess) pid() int { return p.cmd.Process.Pid }

// logTail is the end of the operator's log (which holds no Secret data: the
// operator redacts API bodies).
func (p *operatorProcess) logTail() string {
	out, _ := os.ReadFile(p.logPath)
	if len(out) > 3000 {
		out = out[len(out)-3000:]
	}
	return string(out)
}

// logErrors counts the error lines of the operator's JSON log by their
// error message (cut to 160 bytes). The operator never logs Secret data.
func (p *operatorProcess) logErrors() map[string]int {
	f, err := os.Open(p.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Error string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Level != "error" {
			continue
		}
		msg := cmp.Or(line.Error, line.Msg)
		if len(msg) > 160 {
			msg = msg[:160]
		}
		out[msg]++
	}
	return out
}

// heapProfile saves the process's heap profile, taken after a garbage
// collection, to path and returns the top of `go tool pprof -top` by
// in-use bytes and the live heap it accounts for, in MiB.
func (p *operatorProcess) heapProfile(ctx context.Context, path string) (top []string, liveMiB float64, err error) {
	if top, err = p.profile(ctx, "heap?gc=1", path, "-sample_index=inuse_space"); err != nil {
		return nil, 0, err
	}
	for _, line := range top {
		if m := pprofTotal.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			liveMiB = v * map[string]float64{"B": 1.0 / mib, "kB": 1.0 / 1024, "MB": 1, "GB": 1024}[m[2]]
		}
	}
	return top, liveMiB, nil
}

// cpuProfile profiles the process's CPU for d, saves the profile to path
// and returns the top of `go tool pprof -top` by cumulative time, where the
// operator's own work shows apart from the libraries'.
func (p *operatorProcess) cpuProfile(ctx context.Context, d time.Duration, path string) ([]string, error) {
	return p.profile(ctx, "profile?seconds="+strconv.Itoa(max(1, int(d.Seconds()))), path, "-cum", "-nodecount=25")
}

// profile saves the pprof endpoint's profile (query: its name and
// parameters) to path and returns the lines of `go tool pprof -top` with args.
func (p *operatorProcess) profile(ctx context.Context, query, path string, args ...string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.pprof+query, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", query, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("profile %s: %s", query, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof", "-top", "-nodecount=15"}, args...), p.bin, path)...).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof: %w", err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n"), nil
}

// pprofTotal finds the total of a `go tool pprof -top` header, such as
// "Showing nodes accounting for 80MB, 95% of 84.44MB total".
var pprofTotal = regexp.MustCompile(`of ([0-9.]+)(B|kB|MB|GB) total`)

// stop sends SIGTERM, as the kubelet does, and waits for the exit (SIGKILL
// after 40 s, past the manager's 30 s graceful shutdown).
func (p *operatorProcess) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// memory returns the process's peak RSS (VmHWM) and current RSS (VmRSS) in
// MiB, from /proc.
func (p *operatorProcess) memory() (peak, now float64) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid()), "status"))
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmHWM:":
			peak = kb / 1024
		case "VmRSS:":
			now = kb / 1024
		}
	}
	return peak, now
}

// anonRSSKiB is the process's anonymous resident memory (RssAnon), KiB.
func (p *operatorProcess) anonRSSKiB() uint64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid()), "status"))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kib, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kib
		}
	}
	return 0
}

// cpuSeconds is the user and system CPU time the process used so far.
func (p *operatorProcess) cpuSeconds() float64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid()), "stat"))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// promMetrics are the families of one scrape, by name.
type promMetrics map[string]*dto.MetricFamily

// scrape reads the operator's /metrics.
func (p *operatorProcess) scrape(ctx context.Context) (promMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metrics, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return families, nil
}

// sum adds the values of family name over the series whose labels hold
// every pair of match (a value of "*" matches any).
func (m promMetrics) sum(name string, match map[string]string) float64 {
	f := m[name]
	if f == nil {
		return 0
	}
	var total float64
series:
	for _, s := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range match {
			if labels[k] != v {
				continue series
			}
		}
		switch {
		case s.Counter != nil:
			total += s.GetCounter().GetValue()
		case s.Gauge != nil:
			total += s.GetGauge().GetValue()
		case s.Untyped != nil:
			total += s.GetUntyped().GetValue()
		}
	}
	return total
}

// apiRequests returns the operator's API requests (list and watch calls
// included) and its writes (POST, PUT, PATCH, DELETE), from client-go's
// rest_client_requests_total.
func (m promMetrics) apiRequests() (all, writes float64) {
	all = m.sum("rest_client_requests_total", nil)
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		writes += m.sum("rest_client_requests_total", map[string]string{"method": method})
	}
	return all, writes
}

// reconciles returns controller_runtime_reconcile_total of controller by
// result.
func (m promMetrics) reconciles(controller string) map[string]float64 {
	out := map[string]float64{}
	f := m["controller_runtime_reconcile_total"]
	if f == nil {
		return out
	}
	for _, s := range f.GetMetric() {
		var ctl, res string
		for _, l := range s.GetLabel() {
			switch l.GetName() {
			case "controller":
				ctl = l.GetValue()
			case "result":
				res = l.GetValue()
			}
		}
		if ctl == controller && s.GetCounter().GetValue() > 0 {
			out[res] += s.GetCounter().GetValue()
		}
	}
	return out
}

// idle reports whether controller has nothing queued (at any priority) and
// no reconcile running.
func (m promMetrics) idle(controller string) bool {
	return m.sum("workqueue_depth", map[string]string{"name": controller}) == 0 &&
		m.sum("controller_runtime_active_workers", map[string]string{"controller": controller}) == 0
}
