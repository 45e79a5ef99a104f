"""`python -m probe` is the same CLI as `sla-probe`."""

from probe.cli import main

raise SystemExit(main())
