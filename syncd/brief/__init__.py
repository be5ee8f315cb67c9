"""The brief builder: a SpecStory session's Markdown in, a PullStory brief or a reason out.

Pure: no I/O, no clock, no network, no index. `push` and `cli` use it; it uses none of them.

    result = build_brief(markdown, name="Fix the sync bug")
    if isinstance(result, NoBrief):
        print(result.reason)
"""

from syncd.brief.build import build_brief
from syncd.brief.model import LIMITS, Brief, BriefFile, Limits, NoBrief, validate

__all__ = ["LIMITS", "Brief", "BriefFile", "Limits", "NoBrief", "build_brief", "validate"]
