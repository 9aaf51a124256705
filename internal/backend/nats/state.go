package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// state is the server-wide snapshot: every stream of the account (buckets
// included) from the paged stream listing, and the consumers of the
// streams whose consumers were observed, each stream's listed once.
type state struct {
	streams map[string]*jetstream.StreamInfo

	mu   sync.Mutex
	cons map[string]*consumerList
}

// consumerList is one stream's consumers, loaded once per snapshot.
type consumerList struct {
	mu     sync.Mutex
	loaded bool
	infos  map[string]*jetstream.ConsumerInfo
}

// loadState lists the streams: one request per 256 streams.
func (c *Client) loadState(ctx context.Context) (*state, error) {
	st := &state{streams: map[string]*jetstream.StreamInfo{}, cons: map[string]*consumerList{}}
	err := c.call(ctx, "list streams", func(ctx context.Context, js jetstream.JetStream) error {
		l := js.ListStreams(ctx)
		for info := range l.Info() {
			st.streams[info.Config.Name] = info
		}
		return l.Err()
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// consumers returns stream's consumers by name, listing them on the first
// call for this snapshot (one request per 256 consumers).
func (st *state) consumers(ctx context.Context, c *Client, stream string) (map[string]*jetstream.ConsumerInfo, error) {
	st.mu.Lock()
	l := st.cons[stream]
	if l == nil {
		l = &consumerList{}
		st.cons[stream] = l
	}
	st.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.loaded {
		return l.infos, nil
	}
	infos := map[string]*jetstream.ConsumerInfo{}
	if n := st.streams[stream]; n != nil && n.State.Consumers == 0 {
		l.infos, l.loaded = infos, true
		return infos, nil
	}
	err := c.call(ctx, "list the consumers of stream "+stream, func(ctx context.Context, _ jetstream.JetStream) error {
		offset := 0
		for {
			var resp consumerListResponse
			if err := c.request(ctx, "CONSUMER.LIST."+stream, map[string]int{"offset": offset}, &resp); err != nil {
				return err
			}
			if resp.Error != nil {
				return resp.Error
			}
			for _, ci := range resp.Consumers {
				infos[ci.Name] = ci
			}
			offset += len(resp.Consumers)
			if len(resp.Consumers) == 0 || offset >= resp.Total {
				return nil
			}
		}
	})
	if isStreamNotFound(err) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	l.infos, l.loaded = infos, true
	return infos, nil
}

type consumerListResponse struct {
	Error     *jetstream.APIError       `json:"error,omitempty"`
	Total     int                       `json:"total"`
	Consumers []*jetstream.ConsumerInfo `json:"consumers"`
}

// request sends one JetStream API request on subject (after the API
// prefix, in the configured domain) and decodes the answer. The subject's
// variable tokens are names checked by checkName.
func (c *Client) request(ctx context.Context, subject string, req, resp any) error {
	var body []byte
	if req != nil {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	prefix := "$JS.API."
	if c.cfg.Domain != "" {
		prefix = "$JS." + c.cfg.Domain + ".API."
	}
	c.mu.Lock()
	nc := c.nc
	c.mu.Unlock()
	if nc == nil {
		return fmt.Errorf("not connected")
	}
	msg, err := nc.RequestWithContext(ctx, prefix+subject, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(msg.Data, resp); err != nil {
		return fmt.Errorf("decode the answer to %s: %w", subject, err)
	}
	return nil
}
