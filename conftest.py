"""The repository's test groups (tests/groups.py), registered for every test under tests/ and services/."""

pytest_plugins = ("tests.groups",)
