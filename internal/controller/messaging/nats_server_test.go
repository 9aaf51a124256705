package messaging

import (
	"testing"
	"time"

	"github.com/backend-operator/backend-operator/internal/backend/nats"
)

// TestJetStreamAccountUsage: usage is written when none was, when the last
// reading is older than usageRefresh, or when limits or domain changed;
// otherwise the previous reading stays, so the server's status (which
// wakes every object on it) does not change at every check.
func TestJetStreamAccountUsage(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	info := nats.ServerInfo{Domain: "hub", MaxMemory: 100, MaxStorage: 200, MaxStreams: -1, MaxConsumers: -1, Memory: 7, Streams: 3}
	first := jetStreamAccount(nil, info, now)
	if first.Usage.Memory != 7 || first.UsageCheckedAt == nil || !first.UsageCheckedAt.Time.Equal(now) {
		t.Fatalf("first reading %+v", first)
	}
	busier := info
	busier.Memory, busier.Streams = 9, 4
	for _, tc := range []struct {
		why      string
		info     nats.ServerInfo
		at       time.Time
		wantUsed int64
	}{
		{"usage changed a minute later: kept", busier, now.Add(time.Minute), 7},
		{"usage changed after the refresh: written", busier, now.Add(usageRefresh), 9},
		{"limits changed: written", func() nats.ServerInfo { i := busier; i.MaxMemory = 500; return i }(), now.Add(time.Minute), 9},
		{"domain changed: written", func() nats.ServerInfo { i := busier; i.Domain = ""; return i }(), now.Add(time.Minute), 9},
	} {
		got := jetStreamAccount(first.DeepCopy(), tc.info, tc.at)
		if got.Usage.Memory != tc.wantUsed {
			t.Errorf("%s: usage memory %d, want %d", tc.why, got.Usage.Memory, tc.wantUsed)
		}
		if got.Limits.MaxMemory != tc.info.MaxMemory || got.Domain != tc.info.Domain {
			t.Errorf("%s: limits or domain not current: %+v", tc.why, got)
		}
	}
}
