"""pyld, imported without the network document loaders it builds as it is imported.

On import, pyld makes a default document loader over requests (or else aiohttp), and loads its aiohttp loader
module (asyncio): requests, urllib3, charset-normalizer, idna and asyncio cost over a tenth of a second, a
quarter of a `verify`'s start-up, for loaders credanchor never lets run (every context comes from the bundled
map, `anchoring.jsonld`). So pyld is imported here, once, with requests and aiohttp hidden and its aiohttp
loader module replaced by one whose loader cannot be made: pyld's default loader is then its dummy one, which
refuses to load anything. Both are undone once pyld is in (a later `import requests` works as ever). Every
credanchor module takes pyld's names from this module, so whichever comes first, pyld is imported this way;
should pyld's own import change shape, it is imported plainly instead.

Two more modules pyld imports are loaded only if used: `lxml.html` (pyld reads HTML documents with it, and
the bundled loader serves JSON only) and `urllib.request` (for `url2pathname` in its file loader, never
used here); together a tenth of a `verify`'s imports, with lxml's parser and the HTTP and e-mail modules.
While pyld is imported they are stand-ins that import the real module on first use; afterwards they are
gone from `sys.modules`, so a later `import lxml.html` or `import urllib.request` is the real one.
"""

import importlib
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

_HIDDEN = ("requests", "aiohttp")
_AIOHTTP_LOADER = "pyld.documentloader.aiohttp"


class _NoNetworkLoader:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise ImportError("credanchor gives pyld no network document loader")


def _no_network_loader(**kwargs: Any) -> Any:
    raise ImportError("credanchor gives pyld no network document loader")


class _OfflineLoaderModule:
    """Serves `pyld.documentloader.aiohttp` as a module whose loader cannot be made (no asyncio loaded). A
    finder and loader by their methods (`importlib.abc` itself would load importlib.resources)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        return importlib.machinery.ModuleSpec(fullname, self) if fullname == _AIOHTTP_LOADER else None  # type: ignore[arg-type]

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        module.AioHttpDocumentLoader = _NoNetworkLoader  # type: ignore[attr-defined]
        module.aiohttp_document_loader = _no_network_loader  # type: ignore[attr-defined]


class _OnFirstUse:
    """Stands for module `name` (or its attribute `attribute`): the real one is imported on first use."""

    def __init__(self, name: str, attribute: str | None = None) -> None:
        self._name = name
        self._attribute = attribute

    def _real(self) -> Any:
        module = importlib.import_module(self._name)
        return getattr(module, self._attribute) if self._attribute else module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._real()(*args, **kwargs)


def _stand_ins() -> dict[str, ModuleType]:
    """`lxml.html` and `urllib.request` as pyld uses them, where neither is loaded yet (else: none)."""
    if "lxml.html" in sys.modules or "urllib.request" in sys.modules:
        return {}
    html = ModuleType("lxml.html")
    html.fromstring = _OnFirstUse("lxml.html", "fromstring")  # type: ignore[attr-defined]
    request = ModuleType("urllib.request")
    request.url2pathname = _OnFirstUse("urllib.request", "url2pathname")  # type: ignore[attr-defined]
    return {"lxml.html": html, "urllib.request": request}


def _import_pyld() -> None:
    if "pyld" in sys.modules:
        return
    hidden = [name for name in _HIDDEN if name not in sys.modules]
    finder = _OfflineLoaderModule()
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` raises ImportError meanwhile
    stand_ins = _stand_ins()
    if stand_ins:
        import lxml  # type: ignore[import-untyped]  # the package alone (a version string): pyld binds it

        sys.modules.update(stand_ins)
    sys.meta_path.insert(0, finder)
    try:
        import pyld
    except Exception:  # pyld's import changed shape: import it plainly (the loaders then cost their time)
        for name in [n for n in sys.modules if n == "pyld" or n.startswith("pyld.")]:
            del sys.modules[name]
        sys.meta_path.remove(finder)
        for name in hidden:
            del sys.modules[name]
        hidden = []
        import pyld  # noqa: F401
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]  # a later import gets the real module
        if stand_ins and "lxml.html" not in sys.modules and not hasattr(lxml, "html"):
            # pyld reaches it through the package (`lxml.html.fromstring`): the real module on first use, and
            # a later `import lxml.html` puts the real one in its place.
            lxml.html = _OnFirstUse("lxml.html")
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        if isinstance(getattr(sys.modules.get(_AIOHTTP_LOADER), "__loader__", None), _OfflineLoaderModule):
            del sys.modules[_AIOHTTP_LOADER]  # a later import of it gets pyld's own
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


_import_pyld()

from pyld import jsonld  # noqa: E402
from pyld.canon import URDNA2015  # noqa: E402
from pyld.context_resolver import ContextResolver  # noqa: E402
from pyld.nquads import escape  # noqa: E402

__all__ = ["URDNA2015", "ContextResolver", "escape", "jsonld"]
