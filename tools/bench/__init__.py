"""Benchmarks that print figures (never timed assertions): bench_synth (`make bench-synth`), bench_services and its
framework-ceiling stub bench_stub (`make bench-services`)."""
