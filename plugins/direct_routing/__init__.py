"""The library's old import path, kept for one release so that DAGs written against it keep working.

The library was ``direct_routing`` until it became ``call_logs`` (it now carries more than one Graph report).
Each old public name is still importable from its old module; taking it emits one ``DeprecationWarning`` that
names its replacement. The names are handed out by each module's ``__getattr__`` (PEP 562), so importing a module
alone warns about nothing and every use of an old name warns at the line that uses it. See CHANGELOG.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

REMOVAL = "the next release"


def deprecated_names(module: str, names: Mapping[str, tuple[object, str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` giving out ``names`` (old name -> (object, new dotted name)), each with a warning."""

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target, new = names[name]
        warnings.warn(
            f"{module}.{name} is deprecated and will be removed in {REMOVAL}; use {new}.",
            DeprecationWarning,
            stacklevel=2,
        )
        return target

    return __getattr__
