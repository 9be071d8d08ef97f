"""MkDocs hook: the site's sections in reading order.

Without a hand-kept ``nav:`` (a page added to a folder appears by itself), MkDocs sorts the
folders alphabetically; a course reads Start, Lessons, Guides, Reference, Results,
Development. A section not named here fails the build, so a new folder gets its place.
"""

from __future__ import annotations

from typing import Any

ORDER = ("Lessons", "Guides", "Reference", "Results", "Development")


def on_nav(nav: Any, **_: Any) -> Any:
    """The start page first, then the sections in :data:`ORDER`."""
    def place(item: Any) -> int:
        if not item.is_section:
            return -1  # a page of the top level: the start page
        if item.title not in ORDER:
            raise ValueError(f"docs/{item.title.lower()}/: a section with no place in "
                             f"docs/hooks/sections.py ORDER {ORDER}")
        return ORDER.index(item.title)

    nav.items.sort(key=place)
    return nav
