"""The HTTP API (FastAPI) and the ``qingfeng`` command line: thin layers over ``cases``."""
