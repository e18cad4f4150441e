"""Evidence vault for the Micro-Enterprise Credential: the domain core."""
