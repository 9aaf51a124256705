package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Backends are private instances of every engine a suite needs, started
// side by side (MariaDB's and RabbitMQ's first starts take seconds each).
type Backends struct {
	Postgres *Postgres
	MariaDB  *MariaDB
	// Redis has an admin ACL user "operator".
	Redis    *Redis
	RabbitMQ *RabbitMQ
	// NATS is nil unless asked for.
	NATS *NATS
}

// StartBackends starts PostgreSQL, MariaDB, Redis and RabbitMQ, and
// nats-server when withNATS. On an error it stops what did start.
func StartBackends(ctx context.Context, withNATS bool) (*Backends, error) {
	b := &Backends{}
	var wg sync.WaitGroup
	var pgErr, mariaErr, redisErr, rabbitErr, natsErr error
	wg.Go(func() { b.Postgres, pgErr = StartPostgres(ctx) })
	wg.Go(func() { b.MariaDB, mariaErr = StartMariaDB(ctx) })
	wg.Go(func() { b.Redis, redisErr = StartRedis(ctx, RedisOptions{AdminUser: "operator"}) })
	wg.Go(func() { b.RabbitMQ, rabbitErr = StartRabbitMQ(ctx) })
	if withNATS {
		wg.Go(func() { b.NATS, natsErr = StartNATS(ctx, NATSOptions{}) })
	}
	wg.Wait()
	err := errors.Join(wrap("PostgreSQL", pgErr), wrap("MariaDB", mariaErr), wrap("Redis", redisErr),
		wrap("RabbitMQ", rabbitErr), wrap("nats-server", natsErr))
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

func wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("start %s: %w", name, err)
}

// Close stops every instance that started.
func (b *Backends) Close() error {
	var errs []error
	if b.Postgres != nil {
		errs = append(errs, b.Postgres.Close())
	}
	if b.MariaDB != nil {
		errs = append(errs, b.MariaDB.Close())
	}
	if b.Redis != nil {
		errs = append(errs, b.Redis.Close())
	}
	if b.RabbitMQ != nil {
		errs = append(errs, b.RabbitMQ.Close())
	}
	if b.NATS != nil {
		errs = append(errs, b.NATS.Close())
	}
	return errors.Join(errs...)
}
