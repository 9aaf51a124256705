// Package metrics defines the operator's Prometheus metrics, registered with
// controller-runtime's registry so that the manager serves them.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	operations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backend_operator_backend_operations_total",
		Help: "Backend operations by engine, operation (observe, apply, delete, connect) and result (success, error).",
	}, []string{"engine", "operation", "result"})
	latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "backend_operator_backend_operation_duration_seconds",
		Help:    "Latency of backend operations by engine and operation.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	}, []string{"engine", "operation"})
	rotations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "backend_operator_rotation_duration_seconds",
		Help:    "Completed credential rotations by kind and strategy: the time from the trigger to the previous credential retired.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 16),
	}, []string{"kind", "strategy"})
	restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backend_operator_workload_restarts_total",
		Help: "Workloads restarted because a connection Secret they use changed, by kind of the Secret's owner.",
	}, []string{"kind"})
	drift = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backend_operator_drift_detected_total",
		Help: "Observations that found a backend object differing from its spec, by kind.",
	}, []string{"kind"})
)

func init() {
	crmetrics.Registry.MustRegister(operations, latency, drift, rotations, restarts)
}

// ObserveOperation records one backend operation that started at start.
func ObserveOperation(engine, operation string, start time.Time, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	operations.WithLabelValues(engine, operation, result).Inc()
	latency.WithLabelValues(engine, operation).Observe(time.Since(start).Seconds())
}

// DriftDetected counts one observation with drift for kind.
func DriftDetected(kind string) { drift.WithLabelValues(kind).Inc() }

// RotationCompleted records a rotation of a kind's login with strategy that
// took d from trigger to retirement (its _count is the rotations done).
func RotationCompleted(kind, strategy string, d time.Duration) {
	rotations.WithLabelValues(kind, strategy).Observe(d.Seconds())
}

// WorkloadsRestarted counts n workloads restarted for a kind's Secret.
func WorkloadsRestarted(kind string, n int) { restarts.WithLabelValues(kind).Add(float64(n)) }
