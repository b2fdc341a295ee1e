"""Imports put off until first use: what sentence-transformers loads at import but this product never calls.

`import sentence_transformers` imports `sklearn.metrics` (≈ 0.9 s of a 5 s import on two cores:
scikit-learn, SciPy's statistics, pandas) for one function, `pairwise_distances`, which only its
sparse Manhattan similarity calls. Start-up is the product's most visible wait, so a stand-in
`sklearn.metrics` takes the real one's place until something uses it; then the real module is
imported and serves every later use (the stand-in passes each attribute through)::

    defer_sklearn_metrics()
    from sentence_transformers import SentenceTransformer    # scikit-learn is not imported
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

NAME = "sklearn.metrics"


class DeferredModule(types.ModuleType):
    """Stands in `sys.modules` for a module not imported yet; any attribute imports the real one.

    `from <module> import f` asks for `f` at once: names in `deferred` get a function that imports
    the real module when called, so that import statement alone costs nothing.
    """

    def __init__(self, name: str, deferred: tuple[str, ...]) -> None:
        super().__init__(name)
        self.__deferred = frozenset(deferred)

    def __real(self) -> types.ModuleType:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]  # let the import system load the real module in its place
        return importlib.import_module(self.__name__)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)  # dunders (the path, the spec) are probed by the import machinery
        if attr in self.__deferred:
            def call(*args: Any, **kwargs: Any) -> Any:
                return getattr(self.__real(), attr)(*args, **kwargs)
            call.__name__ = attr
            return call
        return getattr(self.__real(), attr)


def defer_sklearn_metrics() -> bool:
    """Put the stand-in in place, unless scikit-learn is absent or already imported; True if it was."""
    if NAME in sys.modules or "sklearn" in sys.modules or importlib.util.find_spec("sklearn") is None:
        return False
    sys.modules[NAME] = DeferredModule(NAME, ("pairwise_distances",))
    return True
