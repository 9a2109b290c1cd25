"""Allow ``python -m ikz_inbox``."""

from ikz_inbox.cli import main

raise SystemExit(main())
