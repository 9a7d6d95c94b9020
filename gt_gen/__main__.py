"""``python -m gt_gen`` is the same as the ``gt-gen`` console script."""

import sys

from gt_gen.cli import main

sys.exit(main())
