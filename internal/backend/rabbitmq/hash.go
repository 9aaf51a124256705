package rabbitmq

import (
	"crypto/md5" //nolint:gosec // only to check hashes of users created before RabbitMQ 3.6
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
)

// Hashing algorithms of RabbitMQ's internal authentication backend, as the
// management API names them.
const (
	HashSHA256 = "rabbit_password_hashing_sha256"
	HashSHA512 = "rabbit_password_hashing_sha512"
	HashMD5    = "rabbit_password_hashing_md5"
)

// saltLen is RabbitMQ's salt: 32 random bits.
const saltLen = 4

// HashPassword computes a RabbitMQ password hash as documented in
// https://www.rabbitmq.com/docs/passwords#computing-password-hash:
// base64(salt + SHA-256(salt + UTF-8 password)) for
// rabbit_password_hashing_sha256.
func HashPassword(password string, salt [4]byte) string {
	return encodeHash(sha256.New(), salt[:], password)
}

// NewPasswordHash is HashPassword with a salt from crypto/rand.
func NewPasswordHash(password string) (string, error) {
	var salt [4]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", err
	}
	return HashPassword(password, salt), nil
}

func encodeHash(h hash.Hash, salt []byte, password string) string {
	h.Write(salt)
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(append([]byte(nil), salt...)))
}

// errUnknownHash: the stored hash is in a form the adapter cannot check.
var errUnknownHash = errors.New("unknown password hash")

// CheckPassword reports whether stored (base64, as GET /api/users returns
// it) is password hashed with algorithm, using the salt in its first four
// bytes. An empty algorithm means SHA-256, the default since 3.6. An empty
// hash (a passwordless user) matches no password.
func CheckPassword(password, stored, algorithm string) (bool, error) {
	if stored == "" {
		return false, nil
	}
	raw, err := base64.StdEncoding.DecodeString(stored)
	if err != nil || len(raw) <= saltLen {
		return false, errUnknownHash
	}
	var h hash.Hash
	switch algorithm {
	case HashSHA256, "":
		h = sha256.New()
	case HashSHA512:
		h = sha512.New()
	case HashMD5:
		h = md5.New() //nolint:gosec // checking a legacy hash, never creating one
	default:
		return false, errUnknownHash
	}
	want := encodeHash(h, raw[:saltLen], password)
	return subtle.ConstantTimeCompare([]byte(want), []byte(stored)) == 1, nil
}
