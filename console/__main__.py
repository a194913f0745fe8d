"""``python -m console``: run the agent console."""

from console.app import main

raise SystemExit(main())
