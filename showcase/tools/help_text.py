"""Help text of the ``showcase`` command and its subcommands: docstrings made plain."""

from __future__ import annotations


def plain_text(doc: str | None) -> str:
    """A docstring as help text: reST double-backquote (literal) markup dropped."""
    return (doc or "").replace("``", "")
