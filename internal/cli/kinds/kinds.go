// Package kinds is the kubectl plugin's catalog of the operator's kinds:
// which are servers, which live on a server, how a serverRef names its
// server, and the names a user may type for each.
package kinds

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// API groups of the operator.
const (
	GroupSQL       = "sql.backend-operator.dev"
	GroupCache     = "cache.backend-operator.dev"
	GroupMessaging = "messaging.backend-operator.dev"
	Version        = "v1alpha1"
)

// Kind is one kind of the operator's API.
type Kind struct {
	Group string
	Name  string
	// Cluster is true for cluster-scoped kinds.
	Cluster bool
	// Server is true for the server kinds.
	Server bool
	// Aliases are the other names a user may type: plural and short names.
	Aliases []string
}

// GVK is the kind's GroupVersionKind.
func (k Kind) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: Version, Kind: k.Name}
}

// ListGVK is the GroupVersionKind of the kind's list.
func (k Kind) ListGVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: Version, Kind: k.Name + "List"}
}

// Servers are the server kinds, namespaced before cluster-scoped.
var Servers = []Kind{
	{Group: GroupSQL, Name: "DatabaseServer", Server: true, Aliases: []string{"databaseservers", "dbsrv"}},
	{Group: GroupSQL, Name: "ClusterDatabaseServer", Server: true, Cluster: true, Aliases: []string{"clusterdatabaseservers", "cdbsrv"}},
	{Group: GroupCache, Name: "CacheServer", Server: true, Aliases: []string{"cacheservers", "cachesrv"}},
	{Group: GroupCache, Name: "ClusterCacheServer", Server: true, Cluster: true, Aliases: []string{"clustercacheservers", "ccachesrv"}},
	{Group: GroupMessaging, Name: "MessagingServer", Server: true, Aliases: []string{"messagingservers", "msgsrv"}},
	{Group: GroupMessaging, Name: "ClusterMessagingServer", Server: true, Cluster: true, Aliases: []string{"clustermessagingservers", "cmsgsrv"}},
}

// Managed are the kinds that live on a server. All have spec.serverRef
// except SchemaMigration, which names a Database (spec.databaseRef).
var Managed = []Kind{
	{Group: GroupSQL, Name: "Database", Aliases: []string{"databases", "db"}},
	{Group: GroupSQL, Name: "DatabaseUser", Aliases: []string{"databaseusers", "dbuser"}},
	{Group: GroupSQL, Name: "SchemaMigration", Aliases: []string{"schemamigrations", "migration"}},
	{Group: GroupCache, Name: "CacheUser", Aliases: []string{"cacheusers", "cacheuser"}},
	{Group: GroupMessaging, Name: "Vhost", Aliases: []string{"vhosts", "mqvhost"}},
	{Group: GroupMessaging, Name: "Exchange", Aliases: []string{"exchanges", "mqexchange"}},
	{Group: GroupMessaging, Name: "Queue", Aliases: []string{"queues", "mqqueue"}},
	{Group: GroupMessaging, Name: "Binding", Aliases: []string{"bindings", "mqbinding"}},
	{Group: GroupMessaging, Name: "Policy", Aliases: []string{"policies", "mqpolicy"}},
	{Group: GroupMessaging, Name: "MessagingUser", Aliases: []string{"messagingusers", "msguser"}},
	{Group: GroupMessaging, Name: "Stream", Aliases: []string{"streams", "jsstream"}},
	{Group: GroupMessaging, Name: "Consumer", Aliases: []string{"consumers", "jsconsumer"}},
	{Group: GroupMessaging, Name: "KeyValue", Aliases: []string{"keyvalues", "jskv"}},
	{Group: GroupMessaging, Name: "ObjectStore", Aliases: []string{"objectstores", "jsobj"}},
}

// All is every kind, servers first.
func All() []Kind { return slices.Concat(Servers, Managed) }

// DefaultServerKind is the server kind a serverRef without kind names in group.
func DefaultServerKind(group string) string {
	switch group {
	case GroupSQL:
		return "DatabaseServer"
	case GroupCache:
		return "CacheServer"
	default:
		return "MessagingServer"
	}
}

// Lookup finds a kind by what a user typed: its name in any case, its
// plural or short name, optionally qualified by its group
// (databases.sql.backend-operator.dev).
func Lookup(name string) (Kind, error) {
	name = strings.ToLower(name)
	group := ""
	if i := strings.IndexByte(name, '.'); i > 0 {
		name, group = name[:i], name[i+1:]
	}
	for _, k := range All() {
		if group != "" && group != k.Group {
			continue
		}
		if name == strings.ToLower(k.Name) || slices.Contains(k.Aliases, name) {
			return k, nil
		}
	}
	return Kind{}, fmt.Errorf("unknown kind %q: not one of the operator's kinds", name)
}
