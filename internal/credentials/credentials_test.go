package credentials

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != PasswordLength || strings.Trim(p, alphabet) != "" {
			t.Fatalf("password has the wrong shape (length %d)", len(p))
		}
		if seen[p] {
			t.Fatal("a password repeated")
		}
		seen[p] = true
	}
}

func TestRender(t *testing.T) {
	v := Values{Type: "postgresql", Provider: "backend-operator", Host: "db", Port: 5432, Username: "u", Password: "p@ss", Database: "orders", Vhost: "/",
		URI: "postgresql://u:p%40ss@db:5432/orders", JDBCURL: "jdbc:postgresql://db:5432/orders"}
	cases := []struct {
		reason   string
		template map[string]string
		want     map[string]string
		err      string
	}{
		{reason: "standard keys only", want: map[string]string{}},
		{reason: "extra keys from the template", template: map[string]string{"DATABASE_URL": "{{ .URI }}", "PGHOST": "{{ .Host }}:{{ .Port }}"},
			want: map[string]string{"DATABASE_URL": "postgresql://u:p%40ss@db:5432/orders", "PGHOST": "db:5432"}},
		{reason: "a standard key cannot be replaced", template: map[string]string{"password": "x"}, err: "standard key"},
		{reason: "unknown field", template: map[string]string{"X": "{{ .Nope }}"}, err: "failed"},
		{reason: "parse error", template: map[string]string{"X": "{{ .URI "}, err: "does not parse"},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			got, err := Render(v, c.template)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				if strings.Contains(err.Error(), v.Password) {
					t.Fatal("the error quotes the password")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range StandardKeys {
				if _, ok := got[k]; !ok {
					t.Errorf("missing standard key %q", k)
				}
			}
			extra := map[string]string{}
			for k, val := range got {
				if !strings.Contains(strings.Join(StandardKeys, ","), k) {
					extra[k] = string(val)
				}
			}
			if diff := cmp.Diff(c.want, extra); diff != "" {
				t.Errorf("extra keys (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{"{{ .URI }}", "{{ .Password | printf \"%q\" }}", "{{", "}}", "{{ .Nope }}", "'\";--\\\x00`", "{{ range . }}{{ end }}"} {
		f.Add(s, "p'\"\\`;--\x00ü")
	}
	f.Add("{{A", "1") // a parse error that happens to contain a one-character password
	f.Fuzz(func(t *testing.T, tmpl, password string) {
		v := Values{Type: "postgresql", Host: "h", Port: 1, Username: "u", Password: password}
		data, err := Render(v, map[string]string{"X": tmpl, "P": "{{ .Password }}"})
		if err != nil {
			// The error must not depend on the password: rendering with another
			// one gives the same message, so no part of it can leak.
			other := v
			other.Password = password + "-other"
			_, err2 := Render(other, map[string]string{"X": tmpl, "P": "{{ .Password }}"})
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("the error depends on the password")
			}
			return
		}
		if string(data["P"]) != password || string(data["password"]) != password {
			t.Fatal("the password did not render verbatim")
		}
	})
}
