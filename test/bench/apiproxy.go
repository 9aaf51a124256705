package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// apiProxy is a plain-HTTP reverse proxy in front of the API server that
// counts what passes: reads, watches, and each write by method, path (the
// name replaced by *) and whether it touches a new object (isNew on the
// target's name, or on a create's body). It lets the bench attribute an operator process's writes to
// objects, which the process's own metrics cannot.
type apiProxy struct {
	srv   *http.Server
	addr  string
	isNew func(name string) bool

	reads, watches atomic.Int64
	mu             sync.Mutex
	// writes counts writes by "METHOD path-without-name" and by new (true)
	// or existing (false) target.
	writes map[bool]map[string]int64
}

// startAPIProxy serves on a free loopback port and forwards to cfg's API
// server with cfg's credentials.
func startAPIProxy(cfg *rest.Config, isNew func(name string) bool) (*apiProxy, error) {
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("API server address: %w", err)
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("API transport: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &apiProxy{addr: l.Addr().String(), isNew: isNew, writes: map[bool]map[string]int64{true: {}, false: {}}}
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     transport,
		FlushInterval: -1, // watches stream
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.count(r)
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// count records r; a write's body is read (and put back) to name what a
// POST creates.
func (p *apiProxy) count(r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
		p.watches.Add(1)
		return
	case r.Method == http.MethodGet:
		p.reads.Add(1)
		return
	}
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	name := nameInPath(r.URL.Path)
	isNew := false
	if name != "" {
		isNew = p.isNew(name)
	} else {
		// A create: the new object's name (or the name of the object an
		// Event is about) is in the body, JSON or protobuf alike; isNew
		// looks for the new objects' name prefix in it.
		isNew = p.isNew(string(body))
	}
	p.mu.Lock()
	p.writes[isNew][r.Method+" "+withoutName(r.URL.Path)]++
	p.mu.Unlock()
}

// nameInPath returns the object name of /api/v1/[namespaces/ns/]kind/name[/sub]
// or /apis/group/version/[namespaces/ns/]kind/name[/sub], "" for a
// collection.
func nameInPath(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	// Skip to the part after the version.
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return ""
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:] // a namespaced kind
	}
	if len(parts) >= 2 {
		return parts[1]
	}
	return ""
}

// writeCounts returns the writes to new objects and to the others, by
// method and path, and their totals.
func (p *apiProxy) writeCounts() (toNew, toOthers map[string]int64, nNew, nOthers int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	toNew, toOthers = map[string]int64{}, map[string]int64{}
	for k, v := range p.writes[true] {
		toNew[k], nNew = v, nNew+v
	}
	for k, v := range p.writes[false] {
		toOthers[k], nOthers = v, nOthers+v
	}
	return toNew, toOthers, nNew, nOthers
}

func (p *apiProxy) close() { _ = p.srv.Close() }

// writeProxyKubeconfig writes a kubeconfig for the plain-HTTP proxy at addr
// (which adds the credentials itself) to path.
func writeProxyKubeconfig(path, addr string) error {
	kc := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"bench": {Server: "http://" + addr}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"bench": {}},
		Contexts:       map[string]*clientcmdapi.Context{"bench": {Cluster: "bench", AuthInfo: "bench"}},
		CurrentContext: "bench",
	}
	data, err := clientcmd.Write(kc)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	return os.WriteFile(path, data, 0o600)
}
