package contract

// Files in the SE's data directory, relative to it.
const (
	// SEIdentityFile says who the SE is and which controller it trusts (0600).
	SEIdentityFile = "identity.json"
	// SEConfigFile is the last configuration the SE applied.
	SEConfigFile = "config.json"
	// JoinTokenFile is where an SE finds its join token (0600). The token is a secret: it is
	// handed over in a file, never on a command line or in the environment.
	JoinTokenFile = "join-token"
)
