"""``python -m gridfs.cli``: the ``gridfs`` command without its console script."""

import sys

from gridfs.cli.app import main

sys.exit(main())
