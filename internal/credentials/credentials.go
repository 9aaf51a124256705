// Package credentials generates passwords and renders connection Secrets in the
// Service Binding for Kubernetes shape.
package credentials

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

// PasswordLength is the length of generated passwords: 32 characters from 62
// give about 190 bits.
const PasswordLength = 32

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// GeneratePassword returns a random alphanumeric password from crypto/rand.
// Alphanumeric passwords need no escaping in URIs, DSNs or shells.
func GeneratePassword() (string, error) {
	var b strings.Builder
	limit := big.NewInt(int64(len(alphabet)))
	for range PasswordLength {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String(), nil
}

// Values are the facts a connection Secret publishes.
type Values struct {
	Type     string
	Provider string
	Host     string
	Port     int
	Username string
	Password string
	Database string
	URI      string
	JDBCURL  string
	// Vhost is the RabbitMQ virtual host (key vhost), for brokers.
	Vhost string
}

// StandardKeys are the keys every connection Secret has; templates cannot
// replace them.
var StandardKeys = []string{"type", "provider", "host", "port", "username", "password", "database", "uri", "jdbc-url", "vhost"}

// Render returns the Secret data: the standard keys plus one key per template
// entry. Template errors never quote values, so no secret leaks through them.
func Render(v Values, templates map[string]string) (map[string][]byte, error) {
	data := map[string][]byte{
		"type":     []byte(v.Type),
		"provider": []byte(v.Provider),
		"host":     []byte(v.Host),
		"port":     []byte(strconv.Itoa(v.Port)),
		"username": []byte(v.Username),
		"password": []byte(v.Password),
		"uri":      []byte(v.URI),
	}
	if v.Database != "" {
		data["database"] = []byte(v.Database)
	}
	if v.JDBCURL != "" {
		data["jdbc-url"] = []byte(v.JDBCURL)
	}
	if v.Vhost != "" {
		data["vhost"] = []byte(v.Vhost)
	}
	for key, text := range templates {
		if slices.Contains(StandardKeys, key) {
			return nil, fmt.Errorf("template key %q would replace a standard key", key)
		}
		t, err := template.New(key).Option("missingkey=error").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("template %q does not parse: %w", key, err)
		}
		var out strings.Builder
		if err := t.Execute(&out, v); err != nil {
			return nil, fmt.Errorf("template %q failed; it may use .Host .Port .Username .Password .Database .Vhost .URI .JDBCURL .Type .Provider", key)
		}
		data[key] = []byte(out.String())
	}
	return data, nil
}

// WatchLabel marks the Secrets the operator caches and watches: the connection
// Secrets it owns (value WatchOwned) and referenced Secrets whose owners want
// changes picked up at once (any other value). Other Secrets are never cached.
const (
	WatchLabel = "backend-operator.dev/watch"
	WatchOwned = "owned"
)
