"""Griffe extension for the API reference: Sphinx roles in docstrings read as code.

The docstrings name other objects the Sphinx way (``:func:`~torchbasics.runs.kinds.open_run```);
mkdocstrings renders Markdown, where such a role would show as ``:func:`` followed by the
name. Each role becomes the code span a reader expects: the last part of the name for a
``~`` name, the name as written otherwise (a leading ``.`` of a relative name dropped).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|exc|obj):`([^`]+)`")


def plain(match: re.Match[str]) -> str:
    """The code span a role stands for."""
    name = match.group(1).strip()
    shown = re.match(r"^(.*?)\s*<[^>]+>$", name)  # :role:`text <target>`
    if shown:
        name = shown.group(1)
    elif name.startswith("~"):
        name = name.rsplit(".", 1)[-1].lstrip("~")
    return f"`{name.lstrip('.')}`"


class SphinxRoles(Extension):
    """Rewrite the roles in every docstring once its object is loaded."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(plain, obj.docstring.value)
