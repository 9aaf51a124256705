package snapshot

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGetSharesOneLoadAndHonoursTTL(t *testing.T) {
	var n atomic.Int64
	c := New(time.Hour, func(context.Context) (int64, error) {
		time.Sleep(10 * time.Millisecond)
		return n.Add(1), nil
	})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if v, err := c.Get(context.Background()); err != nil || v != 1 {
				t.Errorf("Get = %d, %v; want 1, nil", v, err)
			}
		})
	}
	wg.Wait()
	if got := c.Loads(); got != 1 {
		t.Fatalf("loads = %d, want 1", got)
	}
	c.Invalidate()
	if v, _ := c.Get(context.Background()); v != 2 {
		t.Fatalf("after Invalidate Get = %d, want a new load (2)", v)
	}
}

func TestExpiry(t *testing.T) {
	var n atomic.Int64
	c := New(20*time.Millisecond, func(context.Context) (int64, error) { return n.Add(1), nil })
	v1, _ := c.Get(context.Background())
	v2 := v1
	for deadline := time.Now().Add(time.Second); v2 == v1 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		v2, _ = c.Get(context.Background())
	}
	if v1 != 1 || v2 != 2 {
		t.Fatalf("got %d then %d, want 1 then 2 once the TTL passed", v1, v2)
	}
}

// startHeldLoad returns a cache whose first load, begun by a Get whose value
// arrives on first, is held until release is closed; later loads count up
// from 2.
func startHeldLoad(t *testing.T) (c *Cache[int64], first <-chan int64, release chan struct{}) {
	t.Helper()
	var n atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	c = New(time.Hour, func(context.Context) (int64, error) {
		v := n.Add(1)
		if v == 1 {
			close(started)
			<-release
		}
		return v, nil
	})
	out := make(chan int64, 1)
	go func() { v, _ := c.Get(context.Background()); out <- v }()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the load never started")
	}
	return c, out, release
}

// A load that began before a write must not be served after it.
func TestInvalidateDuringLoadDiscardsIt(t *testing.T) {
	c, first, release := startHeldLoad(t)
	c.Invalidate()
	second := make(chan int64)
	go func() { v, _ := c.Get(context.Background()); second <- v }()
	if v := <-second; v != 2 {
		t.Fatalf("Get after Invalidate = %d, want the new load (2)", v)
	}
	close(release)
	if v := <-first; v != 1 {
		t.Fatalf("first Get = %d, want 1", v)
	}
	if v, _ := c.Get(context.Background()); v != 2 {
		t.Fatalf("cached value = %d, want 2 (the stale load is discarded)", v)
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	var n atomic.Int64
	c := New(time.Hour, func(context.Context) (int64, error) {
		if n.Add(1) == 1 {
			return 0, errors.New("down")
		}
		return 7, nil
	})
	if _, err := c.Get(context.Background()); err == nil {
		t.Fatal("want the load error")
	}
	if v, err := c.Get(context.Background()); err != nil || v != 7 {
		t.Fatalf("Get = %d, %v; want 7, nil", v, err)
	}
}

// A write to one key loads again for that key's check only; other keys
// keep the snapshot they had.
func TestWroteReloadsForThatKeyOnly(t *testing.T) {
	var n atomic.Int64
	c := New(time.Hour, func(context.Context) (int64, error) { return n.Add(1), nil })
	ctx := context.Background()
	if v, _ := c.Get(ctx); v != 1 {
		t.Fatalf("Get = %d, want 1", v)
	}
	c.Wrote("a")
	if v, _ := c.GetFor(ctx, "b"); v != 1 || c.Loads() != 1 {
		t.Fatalf("GetFor(b) after a write to a = %d with %d loads; want 1 with 1 load", v, c.Loads())
	}
	if v, _ := c.GetFor(ctx, "a"); v != 2 {
		t.Fatalf("GetFor(a) after a write to a = %d, want a new load (2)", v)
	}
	if v, _ := c.GetFor(ctx, "b"); v != 2 || c.Loads() != 2 {
		t.Fatalf("GetFor(b) = %d with %d loads; want the newer snapshot (2) with 2 loads", v, c.Loads())
	}
}

// A load that began before a write to a key is not served to that key's
// check, and does not replace the newer snapshot when it ends last.
func TestWroteDuringLoad(t *testing.T) {
	c, first, release := startHeldLoad(t)
	// Bounded: a GetFor that waited on the held load would never return.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Wrote("a")
	if v, _ := c.GetFor(ctx, "a"); v != 2 {
		t.Fatalf("GetFor(a) = %d, want the load begun after the write (2)", v)
	}
	close(release)
	if v := <-first; v != 1 {
		t.Fatalf("first Get = %d, want 1", v)
	}
	if v, _ := c.GetFor(ctx, "a"); v != 2 {
		t.Fatalf("GetFor(a) = %d, want 2 (the older load, ended last, is not kept)", v)
	}
}

// Writes older than the TTL are forgotten, so that the record of writes
// does not grow with every object ever written.
func TestWrotePrunes(t *testing.T) {
	c := New(time.Nanosecond, func(context.Context) (int, error) { return 0, nil })
	for i := range 1000 {
		c.Wrote(strconv.Itoa(i))
	}
	if n := len(c.wrote); n > 64 {
		t.Fatalf("%d writes remembered, want at most 64 with a 1 ns TTL", n)
	}
}
