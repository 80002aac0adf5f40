"""``python -m rewardkit.cli``: the ``rewardkit`` command."""

import sys

from . import main

sys.exit(main())
