package main

import "testing"

func TestNameInPath(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces/ns/secrets":                         "",
		"/api/v1/namespaces/ns/secrets/s":                       "s",
		"/api/v1/namespaces/ns":                                 "ns",
		"/api/v1/namespaces":                                    "",
		"/apis/g/v1/namespaces/ns/kinds/obj/status":             "obj",
		"/apis/events.k8s.io/v1/namespaces/ns/events":           "",
		"/apis/events.k8s.io/v1/namespaces/ns/events/obj.12345": "obj.12345",
		"/apis/g/v1/clusterkinds/obj":                           "obj",
		"/apis/g/v1/clusterkinds":                               "",
	} {
		if got := nameInPath(path); got != want {
			t.Errorf("nameInPath(%q) = %q, want %q", path, got, want)
		}
	}
}
