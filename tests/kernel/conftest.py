"""Fixtures for the kernel tests: the interop ``ikesrv`` fixture (``ikesrv serve`` in a
namespace), shared with tests/kernel/in_vm, which runs inside the ESP VM."""

from __future__ import annotations

from tests.interop.conftest import ikesrv  # noqa: F401  (re-exported fixture)
