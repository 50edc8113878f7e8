"""Environment configuration and the shared platform topology.

The service contract (``services/contract``: services, events, topics, queues, environment names) lives with the
services, since their images hold ``services/`` alone; the CDK app, tools and tests import the same package as
``contract``, as the images do (``services/`` is on the venv's path, ``make setup``; and on pytest's and mypy's).
"""
