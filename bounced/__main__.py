import sys

from bounced.cli import main

sys.exit(main())
