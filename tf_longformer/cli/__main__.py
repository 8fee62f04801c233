import sys

from tf_longformer.cli import main

sys.exit(main())
