package migrate

import (
	"strconv"
	"strings"
	"testing"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want int64
		ok   bool
	}{
		{"00001_create_orders.sql", 1, true},
		{"20240102150405_add_index.sql", 20240102150405, true},
		{"3_x.sql", 3, true},
		{"00000_zero.sql", 0, false},
		{"create_orders.sql", 0, false},
		{"00001_create_orders.txt", 0, false},
		{"00001-create.sql", 0, false},
		{"99999999999999999999_big.sql", 0, false},
		{"../00001_x.sql", 0, false},
	} {
		got, err := ParseName(tc.name)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseName(%q) = %d, %v; want %d, ok=%v", tc.name, got, err, tc.want, tc.ok)
		}
	}
}

func TestNoTransaction(t *testing.T) {
	f := File{Name: "1_x.sql", Content: "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON t (x);\n"}
	if !f.NoTransaction() {
		t.Error("annotation not seen")
	}
	if (File{Content: "-- +goose Up\nSELECT 1; -- NO TRANSACTION\n"}).NoTransaction() {
		t.Error("annotation seen where there is none")
	}
}

func TestSourcesAndMerge(t *testing.T) {
	files := Merge(
		[]File{{Name: "00002_b.sql", Content: "b"}, {Name: "00001_a.sql", Content: "a"}},
		[]File{{Name: "00003_c.sql", Content: "c"}},
		[]File{{Name: "00001_a.sql", Content: "a2"}}, // inline wins
	)
	src, err := Sources(files)
	if err != nil {
		t.Fatal(err)
	}
	if len(src) != 3 || src[0].Version != 1 || src[0].Content != "a2" || src[2].Version != 3 {
		t.Fatalf("sources = %+v", src)
	}
	if src[0].Checksum != Checksum("a2") || len(src[0].Checksum) != 64 {
		t.Errorf("checksum = %q", src[0].Checksum)
	}
	if _, err := Sources([]File{{Name: "1_a.sql"}, {Name: "001_b.sql"}}); err == nil || !strings.Contains(err.Error(), "same version") {
		t.Errorf("duplicate versions: %v", err)
	}
}

func i64(v int64) *int64 { return &v }

func TestCompute(t *testing.T) {
	src, err := Sources([]File{{Name: "1_a.sql", Content: "a"}, {Name: "2_b.sql", Content: "b"}, {Name: "3_c.sql", Content: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	sum := func(v int64) string { return src[v-1].Checksum }
	applied := func(vs ...int64) State {
		var st State
		for _, v := range vs {
			st.Applied = append(st.Applied, Applied{Version: v, Checksum: sum(v)})
		}
		return st
	}
	for _, tc := range []struct {
		name   string
		st     State
		opt    Options
		want   string // steps as "up1 up2", "down3", "base2 up3"
		reason string
	}{
		{name: "from zero", want: "up1 up2 up3"},
		{name: "one new", st: applied(1, 2), want: "up3"},
		{name: "up to date", st: applied(1, 2, 3), want: ""},
		{name: "target", opt: Options{Target: i64(2)}, want: "up1 up2"},
		{name: "down refused", st: applied(1, 2, 3), opt: Options{Target: i64(1)}, reason: ReasonDownNotAllowed},
		{name: "down", st: applied(1, 2, 3), opt: Options{Target: i64(1), AllowDown: true}, want: "down3 down2"},
		{name: "down to zero", st: applied(1, 2), opt: Options{Target: i64(0), AllowDown: true}, want: "down2 down1"},
		{name: "baseline", opt: Options{Baseline: 2}, want: "base2 up3"},
		{name: "baseline ignored with history", st: applied(1), opt: Options{Baseline: 2}, want: "up2 up3"},
		{name: "mismatch", st: State{Applied: []Applied{{Version: 1, Checksum: "old"}}}, reason: ReasonChecksumMismatch},
		{name: "mismatch accepted", st: State{Applied: []Applied{{Version: 1, Checksum: "old"}}}, opt: Options{AcceptChecksums: []int64{1}}, want: "up2 up3"},
		{name: "unknown checksum adopted", st: State{Applied: []Applied{{Version: 1}}}, want: "up2 up3"},
		{name: "out of order", st: applied(1, 3), reason: backenderr.ReasonInvalidSpec},
		{name: "target without file", opt: Options{Target: i64(9)}, reason: backenderr.ReasonInvalidSpec},
		{name: "down without file", st: State{Applied: []Applied{{Version: 1, Checksum: sum(1)}, {Version: 7}}}, opt: Options{Target: i64(1), AllowDown: true}, reason: backenderr.ReasonInvalidSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compute(src, tc.st, tc.opt)
			if tc.reason != "" {
				be, ok := backenderr.As(err)
				if !ok || be.Reason != tc.reason || !be.Terminal {
					t.Fatalf("err = %v, want reason %s", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if p.Baseline > 0 {
				got = append(got, "base"+strconv.FormatInt(p.Baseline, 10))
			}
			for _, s := range p.Steps {
				got = append(got, s.Direction()+strconv.FormatInt(s.Version, 10))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("plan = %q, want %q", g, tc.want)
			}
			if (p.Hash == "") != (tc.want == "") || (p.Hash != "" && len(p.Hash) != 16) {
				t.Errorf("hash = %q", p.Hash)
			}
		})
	}
}

func TestHashChangesWithContent(t *testing.T) {
	a, _ := Sources([]File{{Name: "1_a.sql", Content: "a"}})
	b, _ := Sources([]File{{Name: "1_a.sql", Content: "b"}})
	pa, _ := Compute(a, State{}, Options{})
	pb, _ := Compute(b, State{}, Options{})
	pa2, _ := Compute(a, State{}, Options{})
	if pa.Hash == pb.Hash || pa.Hash != pa2.Hash {
		t.Errorf("hashes %s %s %s", pa.Hash, pb.Hash, pa2.Hash)
	}
	if got := pa.Pending(); len(got) != 1 || got[0] != "version 1 pending" {
		t.Errorf("pending = %v", got)
	}
}
