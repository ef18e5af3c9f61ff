"""`python -m eval.bench`: the answers benchmark (see `eval/bench/answers.py`)."""
import sys

from eval.bench.answers import main

sys.exit(main())
