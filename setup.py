"""The optional C parts: `anchoring._keccak` (Keccak-256 and the Merkle tree's bulk work, see anchoring/merkle.py)
and `anchoring._base58` (base58btc, see anchoring/multibase.py).

Everything else is declared in pyproject.toml. `optional=True`: where no C compiler is found the install goes on
and those modules take their pure-Python paths, which give the same results, only slower.
"""

import platform

from setuptools import Extension, setup

LITTLE_ENDIAN_64 = platform.machine().lower() in {"x86_64", "amd64", "aarch64", "arm64"}
"""_keccak.c reads lanes little-endian; _base58.c builds anywhere."""

NATIVE = [
    Extension("anchoring._base58", ["anchoring/_base58.c"], extra_compile_args=["-O3"], optional=True),
    Extension("anchoring._keccak", ["anchoring/_keccak.c"], extra_compile_args=["-O3"], optional=True),
]

setup(ext_modules=NATIVE if LITTLE_ENDIAN_64 else NATIVE[:1])
