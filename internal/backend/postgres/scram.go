package postgres

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/pbkdf2"
)

// scramIterations matches PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramVerifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for
// password, so the plaintext never travels to the server or its statement log.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	return scramVerifierWith(password, salt, scramIterations), nil
}

func scramVerifierWith(password string, salt []byte, iterations int) string {
	salted := pbkdf2.Key([]byte(password), salt, iterations, sha256.Size, sha256.New)
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey))
}

// scramMemo remembers scramMatches' answers. One answer costs 4,096 rounds of
// PBKDF2 (about 2 ms of CPU), and every drift check of a login asks again
// about the same verifier and password: at 5,000 logins polled every 40 s
// that was half the operator's CPU. Keys are SHA-256 digests of verifier
// and password, so the memo holds no password; it is emptied when full.
var scramMemo = struct {
	sync.Mutex
	m map[[sha256.Size]byte]bool
}{m: map[[sha256.Size]byte]bool{}}

// scramMemoSize bounds scramMemo: about 2 MiB.
const scramMemoSize = 1 << 15

// scramMatches reports whether verifier (as stored in pg_authid.rolpassword) was
// made from password. A verifier in another format never matches.
func scramMatches(verifier, password string) bool {
	key := sha256.Sum256([]byte(verifier + "\x00" + password))
	scramMemo.Lock()
	match, ok := scramMemo.m[key]
	scramMemo.Unlock()
	if ok {
		return match
	}
	match = scramDerivedMatches(verifier, password)
	scramMemo.Lock()
	if len(scramMemo.m) >= scramMemoSize {
		clear(scramMemo.m)
	}
	scramMemo.m[key] = match
	scramMemo.Unlock()
	return match
}

// scramDerivedMatches is scramMatches without the memo.
func scramDerivedMatches(verifier, password string) bool {
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	if !ok {
		return false
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	iterText, saltText, ok := strings.Cut(params, ":")
	if !ok {
		return false
	}
	iterations, err := strconv.Atoi(iterText)
	if err != nil || iterations < 1 || iterations > 1<<24 {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(saltText)
	if err != nil {
		return false
	}
	want := scramVerifierWith(password, salt, iterations)
	_, wantKeys, _ := strings.Cut(strings.TrimPrefix(want, "SCRAM-SHA-256$"), "$")
	return subtle.ConstantTimeCompare([]byte(wantKeys), []byte(keys)) == 1
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
