"""Load on demand: the traffic-shaped Locust scenario (scenario.py), run locally or as a Kubernetes Job."""
