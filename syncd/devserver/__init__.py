"""A local SpecStory Cloud REST server for demos and integration tests.

It imports nothing from the rest of syncd, so it cannot agree with a client bug.
"""

from syncd.devserver.faults import Fault, FaultKind
from syncd.devserver.requestlog import RequestRecord
from syncd.devserver.server import DevServer, serve

__all__ = ["DevServer", "Fault", "FaultKind", "RequestRecord", "serve"]
