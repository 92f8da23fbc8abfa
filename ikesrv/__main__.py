"""``python -m ikesrv`` is the ``ikesrv`` command."""

from .cli import main

raise SystemExit(main())
