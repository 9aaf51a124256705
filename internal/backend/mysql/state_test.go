package mysql

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAccountRow(t *testing.T) {
	cases := []struct {
		reason     string
		cols, vals []string
		wantKey    accountKey
		want       accountState
	}{{
		reason:  "MariaDB row with a native hash, a limit and a global privilege",
		cols:    []string{"Host", "User", "Password", "Select_priv", "Process_priv", "ssl_type", "max_user_connections", "plugin", "authentication_string", "account_locked"},
		vals:    []string{"%", "app", "*OLD", "N", "Y", "ANY", "5", "mysql_native_password", "*NEW", "N"},
		wantKey: accountKey{"app", "%"},
		want: accountState{exists: true, maxConns: 5, sslType: "ANY", plugin: "mysql_native_password", authString: "*NEW",
			privs: privSet{{Level: onGlobal}: {"PROCESS": true}}},
	}, {
		reason:  "old MariaDB row keeps the hash in Password",
		cols:    []string{"Host", "User", "Password", "plugin", "authentication_string", "account_locked"},
		vals:    []string{"h", "old", "*OLD", "", "", "Y"},
		wantKey: accountKey{"old", "h"},
		want:    accountState{exists: true, authString: "*OLD", locked: true, privs: privSet{}},
	}}
	for _, c := range cases {
		k, st := accountRow(c.cols, c.vals)
		if k != c.wantKey {
			t.Errorf("%s: key %v, want %v", c.reason, k, c.wantKey)
		}
		if diff := cmp.Diff(c.want, st, cmp.AllowUnexported(accountState{})); diff != "" {
			t.Errorf("%s: state (-want +got):\n%s", c.reason, diff)
		}
	}
}
