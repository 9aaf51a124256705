package operator

import (
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
)

func TestRedactAPIBodies(t *testing.T) {
	var out []string
	base := funcr.New(func(prefix, args string) { out = append(out, prefix+" "+args) }, funcr.Options{Verbosity: 10})
	log := RedactAPIBodies(base).WithName("controller").WithValues("k", "v")

	log.V(8).Info("Response Body", "body", "s3cret-body")
	log.V(8).Info("Request Body", "body", []byte("s3cret-bytes"))
	log.V(1).Info("waiting", "body", "kept")
	log.V(11).Info("Response Body", "body", "s3cret-too-verbose")

	all := strings.Join(out, "\n")
	if strings.Contains(all, "s3cret") {
		t.Errorf("a body was logged: %s", all)
	}
	for _, want := range []string{"<redacted: 11 bytes>", "<redacted: 12 bytes>", `"body"="kept"`, `"k"="v"`, "controller"} {
		if !strings.Contains(all, want) {
			t.Errorf("log lacks %q: %s", want, all)
		}
	}
	if len(out) != 3 {
		t.Errorf("want 3 lines (V(11) is above the base verbosity), got %d", len(out))
	}
}
