"""What syncd knows about a session, as one typed, frozen shape. Pure: no I/O.

Light on purpose: importing the model imports nothing but the standard library.
"""

from syncd.model.session import Session, SessionMetadata, SessionRecord

__all__ = ["Session", "SessionMetadata", "SessionRecord"]
