"""FLOPs and parameters of a config's model (mmengine's
``get_model_complexity_info``): the backbone's cost of embedding one image,
the unit every few-shot method multiplies (support and query images, inner
steps).

    python tools/analysis_tools/get_flops.py CONFIG [--shape C H W]
        [--cfg-options ...] [--table]

The input shape is what the config's test pipeline makes of an image (for
the Omniglot configs 1 x 28 x 28, for the 84-pixel RGB ones 3 x 84 x 84),
unless ``--shape`` says otherwise. The model is built with its config's
initialisation (no checkpoint needed: FLOPs do not depend on the weights).
"""
import argparse
from typing import Tuple

import numpy as np
from mmengine.config import Config, DictAction


def build_parser() -> argparse.ArgumentParser:
    """This tool's command line (also read by the docs check,
    tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape', type=int, nargs=3, metavar=('C', 'H', 'W'),
        help='input image shape (default: the test pipeline\'s)')
    parser.add_argument(
        '--table', action='store_true',
        help='also print mmengine\'s per-module table')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys')
    return parser


def pipeline_shape(cfg: Config) -> Tuple[int, int, int]:
    """The [C, H, W] the config's test data gives a 100 x 100 RGB image
    (:class:`mmmtl.apis.ImagePreparer`)."""
    from mmmtl.apis import ImagePreparer, find_test_dataset_cfg
    prepare = ImagePreparer(find_test_dataset_cfg(cfg))
    image = np.full((100, 100, 3), 128, np.uint8)
    return tuple(prepare(image, '<blank image>').shape)


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    from mmengine.analysis import get_model_complexity_info

    from mmmtl.registry import MODELS
    from mmmtl.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    shape = tuple(args.shape) if args.shape else pipeline_shape(cfg)
    model = MODELS.build(cfg.model).eval()
    info = get_model_complexity_info(
        model.backbone, input_shape=shape, show_table=args.table,
        show_arch=False)
    params = sum(p.numel() for p in model.parameters())
    if args.table:
        print(info['out_table'])
    print(f"model: {type(model).__name__}, backbone "
          f"{type(model.backbone).__name__}\n"
          f"input shape: {shape[0]} x {shape[1]} x {shape[2]}\n"
          f"backbone FLOPs per image: {info['flops_str']} "
          f"({info['flops']:,})\n"
          f"backbone parameters: {info['params_str']} ({info['params']:,})\n"
          f"model parameters (all branches and heads): {params:,}")
    return dict(info, shape=shape, model_params=params)


if __name__ == '__main__':
    main()
