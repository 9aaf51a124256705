package servers

import (
	"context"
	"testing"
	"time"
)

type fakeServer struct{}

func (fakeServer) Close() {}

// TestWaitFor: a lookup waits for the client being opened, and gives up
// after its bound when none is.
func TestWaitFor(t *testing.T) {
	r := NewRegistry[fakeServer]()
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _ = r.Ensure("pg", "f1", func() (fakeServer, error) { return fakeServer{}, nil })
	}()
	if _, ok := r.WaitFor(context.Background(), "pg", 5*time.Second); !ok {
		t.Fatal("the client opened meanwhile was not returned")
	}
	if _, ok := r.WaitFor(context.Background(), "other", 100*time.Millisecond); ok {
		t.Fatal("a client that was never opened was returned")
	}
}
