"""Build the Cython extensions in ikesrv/_fast; everything else is in pyproject.toml.

IKESRV_CYTHON_DEBUG=1 turns on annotation (ikesrv/_fast/*.html) and line tracing.
The extensions that call OpenSSL link against the system libcrypto (libssl-dev).
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("IKESRV_CYTHON_DEBUG") == "1"
CFLAGS = ["-O2", "-Wno-unused-function"]
MACROS = [("CYTHON_TRACE", "1")] if DEBUG else []

# module name -> libraries it links against
EXTENSIONS = {
    "codec": [],
    "prf": ["crypto"],
    "dh": ["crypto"],
    "md4": [],
    "des": ["crypto"],
    "cbc": ["crypto"],
    "isakmp": ["crypto"],
}

extensions = [
    Extension(
        f"ikesrv._fast.{name}",
        # the codec is one Python source typed by its augmenting codec.pxd (loaded
        # uncompiled it is the reference implementation); the others are .pyx
        [f"ikesrv/_fast/{name}.py" if name == "codec" else f"ikesrv/_fast/{name}.pyx"],
        libraries=libs,
        extra_compile_args=CFLAGS,
        define_macros=MACROS,
    )
    for name, libs in EXTENSIONS.items()
    # IKESRV_EXT=codec,prf builds only those (handy while working on one module)
    if name in os.environ.get("IKESRV_EXT", name).split(",")
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        annotate=DEBUG,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "linetrace": DEBUG,
            "embedsignature": True,
        },
    ),
)
