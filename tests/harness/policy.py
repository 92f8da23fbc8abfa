"""When a test cannot run here: skip it with the reason, or fail it when CI demands it.

Owns: the one rule for tests that need root, network namespaces or a peer binary
(strongSwan, pluto, ike-scan, tshark, slapd, Prometheus). On a developer's machine they
are skipped with a stated reason; with ``IKESRV_REQUIRE_ROOT_TESTS=1`` (set by ``.ci/run``)
they fail instead, so that CI never goes green by skipping what it was meant to run.

Imports only pytest and the standard library; nothing from ikesrv.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ENV = "IKESRV_REQUIRE_ROOT_TESTS"


def strict() -> bool:
    """True when unavailable prerequisites must fail the test rather than skip it."""
    return os.environ.get(REQUIRE_ENV, "") == "1"


def unavailable(reason: str) -> None:
    """Skip the running test with ``reason``, or fail it under IKESRV_REQUIRE_ROOT_TESTS=1."""
    if strict():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: required here, not skipped)", pytrace=False)
    pytest.skip(reason)


def require_root() -> None:
    """The test creates network namespaces and starts daemons: it needs root."""
    if os.geteuid() != 0:
        unavailable("needs root (creates network namespaces and starts IKE daemons)")


def require_binary(name_or_path: str, package: str | None = None) -> str:
    """The absolute path of an executable the test needs, or skip/fail naming its package."""
    if os.path.isabs(name_or_path):
        found = name_or_path if os.access(name_or_path, os.X_OK) else None
    else:
        # peers live in sbin directories that a non-login PATH may lack
        path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/lib/ipsec"
        found = shutil.which(name_or_path, path=path)
    if not found:
        hint = f" (Debian package {package}; `make lab` installs it)" if package else ""
        unavailable(f"{name_or_path} not found{hint}")
    return found


def require_file(path: str, what: str) -> str:
    """A file the test needs (a schema, a plugin ...), or skip/fail saying what it is."""
    if not os.path.exists(path):
        unavailable(f"{what} not found at {path} (`make lab` provides it)")
    return path
