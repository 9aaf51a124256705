package operator

import (
	"strconv"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// NewLogger returns the operator's logger: zap with opts, with API bodies
// redacted (see RedactAPIBodies). cmd/main and in-process harnesses use it.
func NewLogger(opts ...zap.Opts) logr.Logger {
	return RedactAPIBodies(zap.New(opts...))
}

// RedactAPIBodies wraps base so that the request and response bodies client-go
// logs at V(8) and above are replaced by their length. Those bodies are whole
// API objects, Secrets included: the operator reads and writes connection and
// password Secrets through the same logger, so at that verbosity every
// password would be in the log (hex-dumped in protobuf). The lines themselves
// stay, so the verbosity still shows each request.
func RedactAPIBodies(base logr.Logger) logr.Logger {
	sink := base.GetSink()
	if sink == nil {
		return base
	}
	if cd, ok := sink.(logr.CallDepthLogSink); ok {
		sink = cd.WithCallDepth(1) // the wrapper's own frame
	}
	return logr.New(redactingSink{sink})
}

// clientGoBodyMessages are the messages client-go logs bodies under, with the
// body in the "body" key (k8s.io/client-go/rest, logBody).
var clientGoBodyMessages = map[string]bool{"Request Body": true, "Response Body": true}

type redactingSink struct{ sink logr.LogSink }

// Init does nothing: the wrapped sink was initialised by its own logger.
func (s redactingSink) Init(logr.RuntimeInfo) {}

func (s redactingSink) Enabled(level int) bool { return s.sink.Enabled(level) }

func (s redactingSink) Info(level int, msg string, kv ...any) {
	if clientGoBodyMessages[msg] {
		kv = redactBody(kv)
	}
	s.sink.Info(level, msg, kv...)
}

func (s redactingSink) Error(err error, msg string, kv ...any) { s.sink.Error(err, msg, kv...) }

func (s redactingSink) WithValues(kv ...any) logr.LogSink {
	return redactingSink{s.sink.WithValues(kv...)}
}

func (s redactingSink) WithName(name string) logr.LogSink {
	return redactingSink{s.sink.WithName(name)}
}

func (s redactingSink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.sink.(logr.CallDepthLogSink); ok {
		return redactingSink{cd.WithCallDepth(depth)}
	}
	return s
}

// redactBody returns kv with the value of "body" replaced by its length.
func redactBody(kv []any) []any {
	out := make([]any, len(kv))
	copy(out, kv)
	for i := 0; i+1 < len(out); i += 2 {
		if k, ok := out[i].(string); ok && k == "body" {
			switch b := out[i+1].(type) {
			case string:
				out[i+1] = "<redacted: " + strconv.Itoa(len(b)) + " bytes>"
			case []byte:
				out[i+1] = "<redacted: " + strconv.Itoa(len(b)) + " bytes>"
			default:
				out[i+1] = "<redacted>"
			}
		}
	}
	return out
}
