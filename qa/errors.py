"""Errors the library raises; the CLI and the web app translate them for people.

Every message names the bad value and the fix, e.g.
    IndexCorruptError("index/dense.faiss: size 10 != 4096 bytes; run `qa index build`")
"""

from __future__ import annotations


class QAError(Exception):
    """Base class: anything the product reports to a user without a traceback."""


class ConfigError(QAError):
    """A setting (environment variable or flag) has a bad value; the message names it and the fix."""


class ModelError(QAError):
    """The embedding model cannot be prepared or loaded."""


class DocumentError(QAError):
    """A document cannot be read or decoded (names the file)."""


class NoDocumentsError(QAError):
    """The docs folder has no supported documents."""


class IndexMissingError(QAError):
    """No index at the given folder."""


class IndexCorruptError(QAError):
    """The index folder is truncated, corrupted or from an incompatible version."""


class InputError(QAError):
    """A question breaks the input rules; `message_vi` is shown to chat users."""

    def __init__(self, message: str, message_vi: str) -> None:
        super().__init__(message)
        self.message_vi = message_vi


class EvalFileError(QAError):
    """A QA evaluation file is malformed."""
