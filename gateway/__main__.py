"""``python -m gateway --config gateway.yaml [--host H] [--port P] [--workers N]``."""

from gateway.server import main

raise SystemExit(main())
