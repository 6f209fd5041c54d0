"""The optional C part: `anchoring._keccak` (Keccak-256 and the Merkle tree's bulk work, see anchoring/merkle.py).

Everything else is declared in pyproject.toml. `optional=True`: where no C compiler is found the install goes on
and anchoring/merkle.py takes its pure-Python path, which gives the same bytes, only slower.
"""

import platform

from setuptools import Extension, setup

LITTLE_ENDIAN_64 = platform.machine().lower() in {"x86_64", "amd64", "aarch64", "arm64"}

setup(
    ext_modules=[Extension("anchoring._keccak", ["anchoring/_keccak.c"], extra_compile_args=["-O3"], optional=True)]
    if LITTLE_ENDIAN_64
    else []
)
