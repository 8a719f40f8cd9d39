"""Prepare data/CUB_200_2011 from the CUB-200-2011 release.

    python tools/data/prepare_cub.py --archive CUB_200_2011.tgz
    python tools/data/prepare_cub.py --src path/to/CUB_200_2011 \
        [--mode symlink|copy]

Extracts (or links / copies) the ``images/<NNN.Name>/*.jpg`` folders of the
release into OUT/images (default OUT: data/CUB_200_2011), dropping any
leading folders of the archive, and prints the class split of Chen et al.
(2019): sorted class index even -> train, 1 mod 4 -> val, 3 mod 4 -> test.
No network access is needed.
"""
import argparse
import os
import os.path as osp
import shutil
import tarfile

from mmmtl.datasets.cub import CUB


def extract(archive: str, out: str) -> int:
    """Extract the members under an ``images/`` folder; returns how many."""
    count = 0
    with tarfile.open(archive, 'r:*') as tar:
        for member in tar:
            parts = member.name.split('/')
            if 'images' not in parts[:-1] or not member.isfile():
                continue
            rel = parts[parts.index('images'):]
            if len(rel) != 3:  # images/<class>/<file>
                continue
            member.name = '/'.join(rel)
            tar.extract(member, out, filter='data')
            count += 1
    return count


def build_parser() -> argparse.ArgumentParser:
    """This tool's command line (also read by the docs check,
    tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--archive', help='CUB_200_2011.tgz')
    source.add_argument('--src', help='the unpacked CUB_200_2011 folder')
    parser.add_argument('--out', default='data/CUB_200_2011')
    parser.add_argument('--mode', choices=['symlink', 'copy'],
                        default='symlink', help='with --src (default: '
                        'symlink)')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    target = osp.join(args.out, 'images')
    if args.archive:
        if not osp.isfile(args.archive):
            raise FileNotFoundError(f'archive {args.archive} not found')
        if not tarfile.is_tarfile(args.archive):
            raise ValueError(f'{args.archive} is not a tar archive')
        if extract(args.archive, args.out) == 0:
            raise FileNotFoundError(
                f'{args.archive} holds no images/<class>/<file>: is it '
                'CUB_200_2011.tgz?')
    else:
        source_images = osp.join(args.src, 'images')
        if not osp.isdir(source_images):
            raise FileNotFoundError(
                f'{source_images} not found: --src must be the CUB_200_2011 '
                'folder holding images/<NNN.Name>/*.jpg')
        if osp.abspath(source_images) != osp.abspath(target) and \
                not osp.lexists(target):
            if args.mode == 'symlink':
                os.symlink(osp.abspath(source_images), target)
            else:
                shutil.copytree(source_images, target)
    for split in CUB.SPLITS:
        dataset = CUB(data_root=args.out, split=split)
        print(f'{split}: {dataset.num_classes} classes, {len(dataset)} '
              'images')
    print(f'CUB ready in {args.out}')


if __name__ == '__main__':
    main()
