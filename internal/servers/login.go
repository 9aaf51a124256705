package servers

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// LoginKey is one key an engine reads from the admin Secret.
type LoginKey struct {
	// Name is the logical name and the default Secret key: username,
	// password, token, nkeySeed, creds.
	Name string
	// Optional keys may be absent (Redis's default user has no username).
	Optional bool
}

// UserPassword is the login of the engines that authenticate with a user
// name and a password.
var UserPassword = []LoginKey{{Name: "username"}, {Name: "password"}}

// Login is what a server's Secrets hold: the declared keys of the admin
// Secret, and the TLS material spec.tls names.
type Login struct {
	// Values holds each declared key present in the admin Secret, by its
	// logical name.
	Values map[string][]byte
	// TLSMode is spec.tls.mode, disable when unset.
	TLSMode string
	// CAPEM is the CA bundle spec.tls.caSecretRef names, if any.
	CAPEM []byte
	// CertPEM and KeyPEM are the client certificate and key
	// spec.tls.clientCertSecretRef names (keys tls.crt and tls.key), if any.
	CertPEM, KeyPEM []byte
}

// Username is the username value.
func (l Login) Username() string { return string(l.Values["username"]) }

// Password is the password value.
func (l Login) Password() string { return string(l.Values["password"]) }

// readLogin reads the keys declared by keys from the admin Secret (renamed
// by spec.adminCredentials usernameKey and passwordKey) and the TLS
// material. A namespaced server reads from its own namespace only.
func readLogin(ctx context.Context, r client.Reader, obj Object, a common.ServerAccess, keys []LoginKey) (Login, string, error) {
	login := Login{Values: map[string][]byte{}, TLSMode: string(common.TLSDisable)}
	secret, err := managed.ReadSecret(ctx, r, cmp.Or(obj.GetNamespace(), a.Credentials.SecretRef.Namespace), a.Credentials.SecretRef.Name)
	if err != nil {
		return Login{}, "", err
	}
	rename := map[string]string{"username": a.Credentials.UsernameKey, "password": a.Credentials.PasswordKey}
	var missing []string
	for _, k := range keys {
		key := cmp.Or(rename[k.Name], k.Name)
		if v := secret.Data[key]; len(v) > 0 {
			login.Values[k.Name] = v
		} else if !k.Optional {
			missing = append(missing, fmt.Sprintf("%q", key))
		}
	}
	if len(missing) > 0 {
		return Login{}, "", managed.Fail(managed.ReasonSecretInvalid, fmt.Sprintf(
			"Secret %q must hold the key(s) %s", secret.Name, strings.Join(missing, ", ")), nil)
	}
	if t := a.TLS; t != nil {
		login.TLSMode = string(cmp.Or(t.Mode, common.TLSDisable))
		if ref := t.CASecretRef; ref != nil {
			if login.CAPEM, err = readKey(ctx, r, obj, ref.SecretReference, cmp.Or(ref.Key, "ca.crt")); err != nil {
				return Login{}, "", err
			}
		}
		if ref := t.ClientCertSecretRef; ref != nil {
			if login.CertPEM, err = readKey(ctx, r, obj, *ref, "tls.crt"); err != nil {
				return Login{}, "", err
			}
			if login.KeyPEM, err = readKey(ctx, r, obj, *ref, "tls.key"); err != nil {
				return Login{}, "", err
			}
		}
	}
	return login, secret.ResourceVersion, nil
}

// readKey reads one non-empty key of a referenced Secret.
func readKey(ctx context.Context, r client.Reader, obj Object, ref common.SecretReference, key string) ([]byte, error) {
	s, err := managed.ReadSecret(ctx, r, cmp.Or(obj.GetNamespace(), ref.Namespace), ref.Name)
	if err != nil {
		return nil, err
	}
	if len(s.Data[key]) == 0 {
		return nil, managed.Fail(managed.ReasonSecretInvalid, fmt.Sprintf("Secret %q has no key %q", s.Name, key), nil)
	}
	return s.Data[key], nil
}
