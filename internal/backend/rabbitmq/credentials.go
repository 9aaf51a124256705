package rabbitmq

import "github.com/backend-operator/backend-operator/internal/backend/port"

// SetCredentials puts the credentials a login accepts into s: one for
// s.Name sets Password, one for another user name sets Alternate
// (AlternatingUsers). Without a credential for s.Name, Password is "": the
// user Name is retired.
func SetCredentials(s *UserSpec, creds []port.Credential) {
	s.Password, s.Alternate = "", nil
	for _, c := range creds {
		if c.Username == s.Name {
			s.Password = c.Password
		} else {
			s.Alternate = &port.Credential{Username: c.Username, Password: c.Password}
		}
	}
}
