"""The local platform and its test harness: everything that runs the synthesized application on this machine.

`make local`, `make e2e`, `make chaos`, `make access-proof`, `make images` and the services' test fixtures start here:
the platform (local_platform) with its stand-ins for what AWS and EKS provide (moto_server, local_token_endpoint,
otel_collector, local_edge), the pieces that run the synthesized Deployments (manifest_resolver, pod_runner,
images, base_image, docker_engine.sh), switchable network paths (tcp_proxy), and the drivers that exercise it
(workflows, smoke, e2e, chaos, poison, access_proof). `testkit` holds the helpers the services' tests share (their
fixtures stay in services/conftest.py).
"""
