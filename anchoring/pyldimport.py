"""pyld, imported without the network document loader it builds as it is imported.

On import, pyld makes a default document loader over requests (or else aiohttp): loading requests, urllib3,
charset-normalizer and idna costs about a tenth of a second, a quarter of a `verify`'s start-up, for a loader
credanchor never lets run (every context comes from the bundled map, `anchoring.jsonld`). So pyld is imported
here, once, with those two packages hidden: its default loader is then pyld's own dummy one, which refuses to
load anything. Every credanchor module takes pyld's names from this module, so whichever comes first, pyld is
imported this way; a process that has loaded requests already (web3 did) loses nothing.
"""

import sys

_HIDDEN = ("requests", "aiohttp")


def _import_pyld() -> None:
    if "pyld" in sys.modules:
        return
    hidden = [name for name in _HIDDEN if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` raises ImportError meanwhile
    try:
        import pyld  # noqa: F401
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


_import_pyld()

from pyld import jsonld  # noqa: E402
from pyld.canon import URDNA2015  # noqa: E402
from pyld.context_resolver import ContextResolver  # noqa: E402
from pyld.nquads import escape  # noqa: E402

__all__ = ["URDNA2015", "ContextResolver", "escape", "jsonld"]
