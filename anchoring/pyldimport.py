"""pyld, imported without the network document loaders it builds as it is imported.

On import, pyld makes a default document loader over requests (or else aiohttp), and loads its aiohttp loader
module (asyncio): requests, urllib3, charset-normalizer, idna and asyncio cost over a tenth of a second, a
quarter of a `verify`'s start-up, for loaders credanchor never lets run (every context comes from the bundled
map, `anchoring.jsonld`). So pyld is imported here, once, with requests and aiohttp hidden and its aiohttp
loader module replaced by one whose loader cannot be made: pyld's default loader is then its dummy one, which
refuses to load anything. Both are undone once pyld is in (a later `import requests` works as ever). Every
credanchor module takes pyld's names from this module, so whichever comes first, pyld is imported this way;
should pyld's own import change shape, it is imported plainly instead.
"""

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


def _import_pyld() -> None:
    if "pyld" in sys.modules:
        return
    hidden = [name for name in _HIDDEN if name not in sys.modules]
    finder = _OfflineLoaderModule()
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` raises ImportError meanwhile
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
