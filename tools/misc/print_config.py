"""Print a config as the tools resolve it: its ``_base_`` files merged and
the ``--cfg-options`` applied (mmengine's ``Config.pretty_text``).

    python tools/misc/print_config.py CONFIG [--cfg-options KEY=VALUE ...]
        [--save resolved.py]

The printed text is itself a config: ``--save`` writes it, and
``Config.fromfile`` of that file gives the same config.
"""
import argparse

from mmengine.config import Config, DictAction


def build_parser() -> argparse.ArgumentParser:
    """This tool's command line (also read by the docs check,
    tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, as in tools/train.py')
    parser.add_argument('--save', help='also write the resolved config here')
    return parser


def resolved_config(config: str, options=None) -> Config:
    """``config`` as ``tools/train.py`` reads it, options merged."""
    cfg = Config.fromfile(config)
    if options:
        cfg.merge_from_dict(options)
    return cfg


def main(argv=None) -> str:
    args = build_parser().parse_args(argv)
    cfg = resolved_config(args.config, args.cfg_options)
    text = cfg.pretty_text
    print(text)
    if args.save:
        cfg.dump(args.save)
        print(f'resolved config written to {args.save}')
    return text


if __name__ == '__main__':
    main()
