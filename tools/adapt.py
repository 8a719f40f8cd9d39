"""Adapt a trained checkpoint to your own classes and predict new images:
python tools/adapt.py CONFIG CHECKPOINT --support DIR [--query PATH ...]
(see ``mmmtl.apis.adapt``)."""
from mmmtl.apis.adapt import build_parser, main  # noqa: F401 (docs check)

if __name__ == '__main__':
    main()
