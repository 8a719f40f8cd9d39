"""Train a few-shot classifier from a config: python tools/train.py CONFIG
(see ``mmmtl.apis.train``)."""
import os.path as osp

from mmmtl.apis.train import build_parser, main  # noqa: F401 (docs check)

if __name__ == '__main__':
    main(test_tool=osp.join(osp.dirname(osp.abspath(__file__)), 'test.py'))
