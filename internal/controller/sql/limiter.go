package sql

import "golang.org/x/time/rate"

// newLimiter bounds how fast all items of one controller are retried.
func newLimiter() *rate.Limiter { return rate.NewLimiter(rate.Limit(50), 300) }
