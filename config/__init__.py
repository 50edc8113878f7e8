"""Environment configuration and the shared platform topology.

The service contract (``services/contract``: services, events, topics, queues, environment names) lives with the
services, since their images hold ``services/`` alone; the CDK app and the tools import the same package as
``contract``, as the images do, so one module (and one enum per concept) serves both sides.
"""

import sys
from pathlib import Path

_SERVICES_DIR = str(Path(__file__).resolve().parent.parent / "services")
if _SERVICES_DIR not in sys.path:
    sys.path.append(_SERVICES_DIR)
