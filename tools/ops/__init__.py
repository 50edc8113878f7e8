"""Commands an operator or the deploy pipeline runs against a deployed environment with their own credentials:
wake (`make wake` / `make sleep`) and redrive (`make redrive`, which also works against the local platform's moto)."""
