package importer

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/nats"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/tlsconfig"
)

// natsConfig is the adapter's configuration of a NATS server.
func natsConfig(spec *msgv1.MessagingServerSpec, l login) nats.Config {
	n := spec.NATS
	if n == nil {
		n = &msgv1.NATSServerSpec{}
	}
	v := l.values
	return nats.Config{Servers: n.Servers, Domain: n.Domain, Username: v["username"], Password: v["password"], Token: v["token"],
		NKeySeed: v["nkeySeed"], Creds: v["creds"], TLSMode: l.tlsMode, CAPEM: l.caPEM, ClientCertPEM: l.certPEM, ClientKeyPEM: l.keyPEM,
		MaxConnections: 2}
}

// natsConnect logs in as the adapter does (one of user and password, token,
// NKey seed or creds).
func natsConnect(cfg nats.Config) (*natsgo.Conn, error) {
	opts := []natsgo.Option{natsgo.Name("kubectl-backend-import"), natsgo.Timeout(10 * time.Second), natsgo.MaxReconnects(0)}
	switch {
	case cfg.Username != "":
		opts = append(opts, natsgo.UserInfo(cfg.Username, cfg.Password))
	case cfg.Token != "":
		opts = append(opts, natsgo.Token(cfg.Token))
	case cfg.NKeySeed != "":
		kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(cfg.NKeySeed)))
		if err != nil {
			return nil, fmt.Errorf("the nkeySeed key does not hold an NKey seed")
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, err
		}
		opts = append(opts, natsgo.Nkey(pub, kp.Sign))
	case cfg.Creds != "":
		jwt, err := nkeys.ParseDecoratedJWT([]byte(cfg.Creds))
		if err != nil {
			return nil, fmt.Errorf("the creds key does not hold a creds file")
		}
		kp, err := nkeys.ParseDecoratedNKey([]byte(cfg.Creds))
		if err != nil {
			return nil, fmt.Errorf("the creds key does not hold a creds file")
		}
		opts = append(opts, natsgo.UserJWT(func() (string, error) { return jwt, nil }, kp.Sign))
	}
	host := ""
	if len(cfg.Servers) > 0 {
		host = strings.TrimPrefix(strings.TrimPrefix(cfg.Servers[0], "tls://"), "nats://")
		host = host[:max(strings.LastIndexByte(host, ':'), 0)]
	}
	if cfg.TLSMode == "verify-full" {
		host = ""
	}
	tlsCfg, err := tlsconfig.Build(tlsconfig.Material{Mode: cfg.TLSMode, Host: host, CAPEM: cfg.CAPEM, CertPEM: cfg.ClientCertPEM, KeyPEM: cfg.ClientKeyPEM})
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		opts = append(opts, natsgo.Secure(tlsCfg))
	}
	return natsgo.Connect(strings.Join(cfg.Servers, ","), opts...)
}

// streamFromConfig expresses a stream's configuration as a Stream spec.
// Limits the server reports as unlimited (-1) and zero durations are left
// out; metadata the server sets (_nats.*) too.
func streamFromConfig(c jetstream.StreamConfig) msgv1.StreamSpec {
	s := msgv1.StreamSpec{Name: c.Name, Description: c.Description, Subjects: c.Subjects, DiscardPerSubject: c.DiscardNewPerSubject,
		DenyDelete: c.DenyDelete, DenyPurge: c.DenyPurge, AllowDirect: c.AllowDirect, AllowRollup: c.AllowRollup, DeletionPolicy: common.DeletionRetain}
	switch c.Retention {
	case jetstream.InterestPolicy:
		s.Retention = "interest"
	case jetstream.WorkQueuePolicy:
		s.Retention = "workqueue"
	}
	if c.Storage == jetstream.MemoryStorage {
		s.Storage = "memory"
	}
	if c.Replicas > 1 {
		s.Replicas = int32(c.Replicas)
	}
	if c.Discard == jetstream.DiscardNew {
		s.Discard = "new"
	}
	if c.Compression == jetstream.S2Compression {
		s.Compression = "s2"
	}
	if c.MaxAge > 0 {
		s.MaxAge = &metav1.Duration{Duration: c.MaxAge}
	}
	if c.Duplicates > 0 {
		s.DuplicateWindow = &metav1.Duration{Duration: c.Duplicates}
	}
	positive := func(n int64) *int64 {
		if n > 0 {
			return &n
		}
		return nil
	}
	s.MaxBytes, s.MaxMsgs, s.MaxMsgsPerSubject = positive(c.MaxBytes), positive(c.MaxMsgs), positive(c.MaxMsgsPerSubject)
	if c.MaxMsgSize > 0 {
		s.MaxMsgSize = new(c.MaxMsgSize)
	}
	if c.MaxConsumers > 0 {
		s.MaxConsumers = new(int32(c.MaxConsumers))
	}
	for k, v := range c.Metadata {
		if !strings.HasPrefix(k, "_nats.") {
			if s.Metadata == nil {
				s.Metadata = map[string]string{}
			}
			s.Metadata[k] = v
		}
	}
	if c.Mirror != nil {
		m := sourceFromConfig(*c.Mirror)
		s.Mirror = &m
	}
	for _, src := range c.Sources {
		if src != nil {
			s.Sources = append(s.Sources, sourceFromConfig(*src))
		}
	}
	if t := c.SubjectTransform; t != nil {
		s.SubjectTransform = &msgv1.SubjectTransform{Source: t.Source, Dest: t.Destination}
	}
	return s
}

func sourceFromConfig(c jetstream.StreamSource) msgv1.StreamSource {
	s := msgv1.StreamSource{Name: c.Name, OptStartSeq: int64(c.OptStartSeq), FilterSubject: c.FilterSubject}
	if c.OptStartTime != nil {
		s.OptStartTime = &metav1.Time{Time: *c.OptStartTime}
	}
	for _, t := range c.SubjectTransforms {
		s.SubjectTransforms = append(s.SubjectTransforms, msgv1.SubjectTransform{Source: t.Source, Dest: t.Destination})
	}
	if e := c.External; e != nil {
		s.ExternalAPIPrefix, s.ExternalDeliverPrefix = e.APIPrefix, e.DeliverPrefix
	}
	return s
}

// natsStreamSpec is the adapter's view of a Stream, as the JetStream
// controller builds it.
func natsStreamSpec(sp msgv1.StreamSpec) nats.StreamSpec {
	d := func(p *metav1.Duration) time.Duration {
		if p == nil {
			return 0
		}
		return p.Duration
	}
	i64 := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	i32 := func(p *int32) int32 {
		if p == nil {
			return 0
		}
		return *p
	}
	out := nats.StreamSpec{Name: sp.Name, Description: sp.Description, Subjects: sp.Subjects, Retention: sp.Retention, Storage: sp.Storage,
		Replicas: int(sp.Replicas), MaxAge: d(sp.MaxAge), MaxBytes: i64(sp.MaxBytes), MaxMsgs: i64(sp.MaxMsgs),
		MaxMsgsPerSubject: i64(sp.MaxMsgsPerSubject), MaxMsgSize: i32(sp.MaxMsgSize), MaxConsumers: int(i32(sp.MaxConsumers)),
		Discard: sp.Discard, DiscardPerSubject: sp.DiscardPerSubject, DuplicateWindow: d(sp.DuplicateWindow), DenyDelete: sp.DenyDelete,
		DenyPurge: sp.DenyPurge, AllowDirect: sp.AllowDirect, AllowRollup: sp.AllowRollup, Compression: sp.Compression, Metadata: maps.Clone(sp.Metadata)}
	src := func(s msgv1.StreamSource) nats.Source {
		o := nats.Source{Name: s.Name, OptStartSeq: uint64(max(s.OptStartSeq, 0)), FilterSubject: s.FilterSubject,
			ExternalAPIPrefix: s.ExternalAPIPrefix, ExternalDeliverPrefix: s.ExternalDeliverPrefix}
		if s.OptStartTime != nil {
			t := s.OptStartTime.UTC()
			o.OptStartTime = &t
		}
		for _, t := range s.SubjectTransforms {
			o.SubjectTransforms = append(o.SubjectTransforms, nats.Transform{Source: t.Source, Destination: t.Dest})
		}
		return o
	}
	if sp.Mirror != nil {
		m := src(*sp.Mirror)
		out.Mirror = &m
	}
	for _, s := range sp.Sources {
		out.Sources = append(out.Sources, src(s))
	}
	if t := sp.SubjectTransform; t != nil {
		out.SubjectTransform = &nats.Transform{Source: t.Source, Destination: t.Dest}
	}
	return out
}

// natsConsumers lists a stream's consumers as Docs that are not printed
// (consumers are not imported yet) but reported on stderr: as managed when
// a Consumer claims them, as not imported otherwise.
func natsConsumers(ctx context.Context, js jetstream.JetStream, stream string, base msgv1.Common) ([]Doc, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %q: %w", stream, err)
	}
	var docs []Doc
	list := s.ListConsumers(ctx)
	for info := range list.Info() {
		c := &msgv1.Consumer{ObjectMeta: metav1.ObjectMeta{Name: objectName(info.Name)},
			Spec: msgv1.ConsumerSpec{Common: base, StreamName: stream, DurableName: info.Config.Durable}}
		why := "consumers are not imported yet"
		if info.Config.Durable == "" {
			c.Spec.DurableName = info.Name
			why = "an ephemeral consumer (consumers are not imported yet)"
		}
		docs = append(docs, Doc{Object: c, Skip: why})
	}
	if err := list.Err(); err != nil {
		return nil, fmt.Errorf("list consumers of stream %q: %w", stream, err)
	}
	return docs, nil
}

// importNATS proposes a Stream per JetStream stream, each checked with the
// adapter. Key/value and object store buckets (streams KV_* and OBJ_*) and
// consumers are not imported yet: both are reported on stderr.
func importNATS(ctx context.Context, spec *msgv1.MessagingServerSpec, l login, ref serverRef) ([]Doc, []string, error) {
	cfg := natsConfig(spec, l)
	nc, err := natsConnect(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %v: %w", cfg.Servers, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if cfg.Domain != "" {
		js, err = jetstream.NewWithDomain(nc, cfg.Domain)
	}
	if err != nil {
		return nil, nil, err
	}
	var infos []*jetstream.StreamInfo
	list := js.ListStreams(ctx)
	for info := range list.Info() {
		infos = append(infos, info)
	}
	if err := list.Err(); err != nil {
		return nil, nil, fmt.Errorf("list streams: %w", err)
	}
	cl, err := nats.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	streams, err := port.For[nats.Streams](nats.KindStream, nats.EngineName, cl)
	if err != nil {
		return nil, nil, err
	}
	base := msgv1.Common{ServerRef: msgv1.ServerReference{Kind: msgv1.ServerKind(ref.Kind), Name: ref.Name}, AdoptExisting: true}
	n := ref.names()
	var docs []Doc
	var skipped []string
	for _, info := range infos {
		name := info.Config.Name
		if strings.HasPrefix(name, "KV_") || strings.HasPrefix(name, "OBJ_") {
			skipped = append(skipped, fmt.Sprintf("stream %q: a key/value or object store bucket (not imported yet)", name))
			continue
		}
		sp := streamFromConfig(info.Config)
		sp.Common = base
		st := &msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: n.take("Stream", name)}, Spec: sp}
		obs, err := streams.Observe(ctx, natsStreamSpec(sp), snapshot.Live)
		if err != nil {
			return nil, nil, fmt.Errorf("observe stream %q: %w", name, err)
		}
		docs = append(docs, Doc{Comments: driftComments(obs.Drift), Object: st})
		cons, err := natsConsumers(ctx, js, name, base)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, cons...)
	}
	return docs, skipped, nil
}
