// Package shard splits the managed objects between operator instances by
// the label common.ShardLabel, as Flux's controllers split theirs by
// sharding.fluxcd.io/key: an instance started with --shard=NAME caches and
// reconciles only the objects labelled NAME, the instance without --shard
// only unlabelled ones. Server kinds are cached by every instance, since each
// connects to the servers its own objects use; only the server's own shard
// writes its status.
package shard

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Label is the label whose value names an object's shard.
const Label = common.ShardLabel

// Validate checks that name can name a shard: a DNS-1123 label (lowercase
// letters, digits and '-', at most 63 characters), because it becomes part
// of the shard's leader election Lease name. The empty name, the unsharded
// instance, is valid.
func Validate(name string) error {
	if name == "" {
		return nil
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("shard %q: %s", name, errs[0])
	}
	return nil
}

// Selector selects the objects the instance of shard name reconciles: those
// labelled name, or, for the unsharded instance (""), those without the label.
func Selector(name string) labels.Selector {
	op, values := selection.Equals, []string{name}
	if name == "" {
		op, values = selection.DoesNotExist, nil
	}
	req, err := labels.NewRequirement(Label, op, values)
	if err != nil {
		// Unreachable for a name that passed Validate.
		panic(fmt.Sprintf("shard selector: %v", err))
	}
	return labels.NewSelector().Add(*req)
}

// Owns reports whether the instance of shard name reconciles obj (for a
// server: reports its status), as Selector(name) would select it. An object
// whose label is present but empty belongs to no instance.
func Owns(name string, obj client.Object) bool {
	v, ok := obj.GetLabels()[Label]
	if name == "" {
		return !ok
	}
	return ok && v == name
}

// LeaseName returns the leader election Lease name of shard name, derived
// from base, the unsharded instance's: each shard elects its own leader.
func LeaseName(base, name string) string {
	if name == "" {
		return base
	}
	return "shard-" + name + "." + base
}

// FieldManager names the instance's writes in metadata.managedFields, so
// that `kubectl get -o yaml --show-managed-fields` tells which shard wrote
// an object.
func FieldManager(name string) string {
	if name == "" {
		return "backend-operator"
	}
	return "backend-operator-shard-" + name
}
