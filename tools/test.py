"""Meta-test a checkpoint on seeded episodes, for one or several ways x
shots settings: python tools/test.py CONFIG CHECKPOINT [--ways 5 20]
[--shots 1 5] [--episodes 600] [--seed 0] [--paired-with OTHER.json]
[--adapter NAME [--adapter-cfg KEY=VALUE ...]] (see ``mmmtl.apis.test``)."""
from mmmtl.apis.test import build_parser, main  # noqa: F401 (docs check)

if __name__ == '__main__':
    main()
