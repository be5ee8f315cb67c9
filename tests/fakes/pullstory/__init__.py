"""A local PullStory API for tests and bench/push_bench.py; never part of the installed syncd.

It borrows the devserver's HTTP plumbing (loopback serving, fault book, request log, rate
window) and nothing from the client side, so it cannot agree with a client bug.
"""

from tests.fakes.pullstory.http import PullStoryRecord
from tests.fakes.pullstory.server import PullStoryServer

__all__ = ["PullStoryRecord", "PullStoryServer"]
