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
	drift = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backend_operator_drift_detected_total",
		Help: "Observations that found a backend object differing from its spec, by kind.",
	}, []string{"kind"})
)

func init() {
	crmetrics.Registry.MustRegister(operations, latency, drift)
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
