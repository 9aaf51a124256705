package operator

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGroupConcurrency(t *testing.T) {
	cases := []struct {
		reason string
		args   []string
		want   map[string]int // concurrency by group
	}{
		{"the default for every group", nil, map[string]int{"sql": 8, "cache": 8, "messaging": 8}},
		{"--concurrency for every group", []string{"--concurrency=3"}, map[string]int{"sql": 3, "cache": 3, "messaging": 3}},
		{"one group set apart", []string{"--concurrency=3", "--messaging-concurrency=16"}, map[string]int{"sql": 3, "cache": 3, "messaging": 16}},
		{"zero keeps --concurrency", []string{"--sql-concurrency=0", "--cache-concurrency=2"}, map[string]int{"sql": 8, "cache": 2, "messaging": 8}},
	}
	for _, tc := range cases {
		cfg, err := ParseFlags(tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.reason, err)
		}
		got := map[string]int{}
		for _, g := range groups {
			got[g] = cfg.group(g).Concurrency
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
		}
	}
	if _, err := ParseFlags("--sql-concurrency=-1"); err == nil {
		t.Error("a negative concurrency is accepted")
	}
	// Each ParseFlags starts afresh.
	if cfg, _ := ParseFlags(); cfg.GroupConcurrency != nil {
		t.Errorf("GroupConcurrency leaks between parses: %v", cfg.GroupConcurrency)
	}
}

func TestWatchNamespaces(t *testing.T) {
	for _, tc := range []struct {
		reason string
		args   []string
		want   []string
	}{
		{"all by default", nil, nil},
		{"a list", []string{"--watch-namespaces=team-a, team-b"}, []string{"team-a", "team-b"}},
		{"empty is all", []string{"--watch-namespaces="}, nil},
	} {
		cfg, err := ParseFlags(tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.reason, err)
		}
		if diff := cmp.Diff(tc.want, cfg.WatchNamespaces); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
		}
	}
}
