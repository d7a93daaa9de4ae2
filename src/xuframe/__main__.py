"""``python -m xuframe`` runs the console script."""

from xuframe.cli import main

raise SystemExit(main())
