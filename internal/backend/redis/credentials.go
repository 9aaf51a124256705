package redis

import "github.com/backend-operator/backend-operator/internal/backend/port"

// SetCredentials puts the passwords a login accepts into s, the one its
// connection Secret holds first (DualPassword: the user accepts both).
// Redis rotations never change the user name, so the names are not used.
func SetCredentials(s *UserSpec, creds []port.Credential) {
	s.Passwords = s.Passwords[:0]
	for _, c := range creds {
		s.Passwords = append(s.Passwords, c.Password)
	}
}
