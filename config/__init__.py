"""Environment configuration and the shared platform topology."""
