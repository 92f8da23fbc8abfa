"""The codec's pure-Python build: ikesrv/_fast/codec.py loaded uncompiled.

Owns the loading of the reference: the compiled extension shadows codec.py on import, so
the source is loaded by path under the module name ``ikesrv._fast.codec_reference``.
The tests hold the compiled build to it (same objects, same exception type and offset
for any input) and bench/bench_codec.py measures the compiled build against it. Nothing
in the running daemon uses it.

Imports only the standard library (and, through codec.py, ikesrv.constants/errors).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

MODULE_NAME = "ikesrv._fast.codec_reference"
SOURCE = Path(__file__).resolve().parent.parent / "_fast" / "codec.py"


def load() -> ModuleType:
    """The reference codec module (loaded once, then taken from sys.modules)."""
    module = sys.modules.get(MODULE_NAME)
    if module is None:
        spec = importlib.util.spec_from_file_location(MODULE_NAME, SOURCE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE_NAME] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[MODULE_NAME]
            raise
    return module


codec = load()
