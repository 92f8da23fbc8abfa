"""Users backends (who may log in with EAP or XAuth) and the EAP methods.

``backend_from_config(config, metrics)`` builds the backend ``[users] backend`` names: the
users file (users_file.py) or LDAP (ldap.py), or None when no connection needs users.
The worker calls ``await backend.check(AuthRequest)`` (users.py: the contract). The
sans-I/O EAP methods live in ``eap/``. This package's ``__init__`` imports no backend
until asked, so the core can use ``auth.users`` and ``auth.eap`` without sockets or asyncio.
"""

from __future__ import annotations


def backend_from_config(config, metrics=None):
    """The users backend of ``config`` (a ``UsersBackend``), or None without ``[users]``."""
    users = config.users
    if users.backend == "file" and users.file is not None:
        from .users_file import UsersFileBackend
        return UsersFileBackend(users.file.path)
    if users.backend == "ldap" and users.ldap is not None:
        from .ldap import LdapBackend
        return LdapBackend(users.ldap, metrics)
    return None


__all__ = ["backend_from_config"]
