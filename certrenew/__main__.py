import sys

from certrenew.cli import main

sys.exit(main())
