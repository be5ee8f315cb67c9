"""A local SpecStory Cloud server for `syncd devserver`, the demo and integration tests.

It imports nothing from the rest of syncd, so it cannot agree with a client bug. The
PullStory fake lives with the tests (tests/fakes/pullstory) and borrows its HTTP plumbing.
"""

from syncd.devserver.faults import Fault, FaultKind
from syncd.devserver.listing_shape import ListingShape
from syncd.devserver.requestlog import RequestRecord
from syncd.devserver.server import DevServer, serve

__all__ = [
    "DevServer",
    "Fault",
    "FaultKind",
    "ListingShape",
    "RequestRecord",
    "serve",
]
