"""moot: a discussion-list server with a living archive."""

__version__ = "0.1.0"
