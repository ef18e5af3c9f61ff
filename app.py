"""`python app.py`: the chat in the browser over the bundled sample (or --docs); see `app/`."""
import sys

from app import main

if __name__ == "__main__":
    sys.exit(main())
