"""Local SpecStory Cloud and PullStory servers for demos and integration tests.

They import nothing from the rest of syncd, so they cannot agree with a client bug.
"""

from syncd.devserver.faults import Fault, FaultKind
from syncd.devserver.listing_shape import ListingShape
from syncd.devserver.pullstory_http import PullStoryRecord
from syncd.devserver.pullstory_server import PullStoryServer
from syncd.devserver.requestlog import RequestRecord
from syncd.devserver.server import DevServer, serve

__all__ = [
    "DevServer",
    "Fault",
    "FaultKind",
    "ListingShape",
    "PullStoryRecord",
    "PullStoryServer",
    "RequestRecord",
    "serve",
]
