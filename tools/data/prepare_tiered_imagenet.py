"""Prepare data/tiered_imagenet from the release of Ren et al. (2018).

    python tools/data/prepare_tiered_imagenet.py --archive tiered-imagenet.tar
    python tools/data/prepare_tiered_imagenet.py \
        --src path/to/tiered-imagenet [--mode symlink|copy]

The release (a tar, possibly gzipped, or its unpacked folder) holds
``{train,val,test}_images_png.pkl`` and ``{train,val,test}_labels.pkl``,
maybe under a top folder; they are extracted (or linked / copied) flat into
OUT (default data/tiered_imagenet), with ``class_names.txt`` and
``synsets.txt`` when present. The label files are then checked (the image
pickles are large and only checked for presence). No network access is
needed.
"""
import argparse
import os
import os.path as osp
import shutil
import tarfile

from mmmtl.datasets.tiered_imagenet import load_plain_pickle

SPLITS = ('train', 'val', 'test')
REQUIRED = tuple(f'{split}_{kind}.pkl' for split in SPLITS
                 for kind in ('images_png', 'labels'))
OPTIONAL = ('class_names.txt', 'synsets.txt')
EXPECTED_CLASSES = dict(train=351, val=97, test=160)


def extract(archive: str, out: str) -> None:
    wanted = set(REQUIRED + OPTIONAL)
    with tarfile.open(archive, 'r:*') as tar:
        for member in tar:
            name = osp.basename(member.name)
            if member.isfile() and name in wanted:
                print(f'extracting {member.name}')
                with tar.extractfile(member) as src, \
                        open(osp.join(out, name), 'wb') as dst:
                    shutil.copyfileobj(src, dst, 16 << 20)


def link_or_copy(src_dir: str, out: str, mode: str) -> None:
    for name in REQUIRED + OPTIONAL:
        src = osp.join(src_dir, name)
        dst = osp.join(out, name)
        if not osp.isfile(src) or osp.lexists(dst):
            continue
        if osp.abspath(src) == osp.abspath(dst):
            continue
        if mode == 'symlink':
            os.symlink(osp.abspath(src), dst)
        else:
            shutil.copy2(src, dst)


def check(out: str) -> None:
    missing = [n for n in REQUIRED if not osp.isfile(osp.join(out, n))]
    if missing:
        raise FileNotFoundError(
            f'{out} lacks {missing}: the tieredImageNet release holds '
            f'{", ".join(REQUIRED)}')
    for split in SPLITS:
        labels = load_plain_pickle(osp.join(out, f'{split}_labels.pkl'))
        names = labels.get('label_specific_str', labels.get(
            b'label_specific_str', []))
        count = len(labels.get('label_specific',
                               labels.get(b'label_specific', [])))
        note = ('' if len(names) == EXPECTED_CLASSES[split] else
                f' (expected {EXPECTED_CLASSES[split]})')
        print(f'{split}: {len(names)} classes{note}, {count} images')


def build_parser() -> argparse.ArgumentParser:
    """This tool's command line (also read by the docs check,
    tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--archive', help='tieredImageNet release tar')
    source.add_argument('--src', help='the unpacked release folder')
    parser.add_argument('--out', default='data/tiered_imagenet')
    parser.add_argument('--mode', choices=['symlink', 'copy'],
                        default='symlink', help='with --src (default: '
                        'symlink)')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.archive:
        if not osp.isfile(args.archive):
            raise FileNotFoundError(f'archive {args.archive} not found')
        if not tarfile.is_tarfile(args.archive):
            raise ValueError(f'{args.archive} is not a tar archive')
        extract(args.archive, args.out)
    else:
        if not osp.isdir(args.src):
            raise FileNotFoundError(f'--src {args.src} is not a folder')
        link_or_copy(args.src, args.out, args.mode)
    check(args.out)
    print(f'tieredImageNet ready in {args.out}')


if __name__ == '__main__':
    main()
