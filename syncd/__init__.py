"""syncd: mirror SpecStory Cloud sessions to a Markdown folder tree and a SQLite index."""

__version__ = "0.1.0"
