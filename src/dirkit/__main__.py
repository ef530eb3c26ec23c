"""Run the dirkit command line with `python -m dirkit`."""

from dirkit.cli.main import main

raise SystemExit(main())
