"""Prepare data/omniglot from the Omniglot release.

    python tools/data/prepare_omniglot.py --archive omniglot_images.tar.gz \
        --splits path/to/splits_vinyals [--out data/omniglot]
    python tools/data/prepare_omniglot.py --download [--out data/omniglot]

Unpacks images_background/ and images_evaluation/ (from a .tar.gz holding
them or the two official zip files) into OUT, and copies the Vinyals split
files to OUT/splits/vinyals. ``--download`` fetches the two official zip
files (needs internet).
"""
import argparse
import os
import os.path as osp
import shutil
import tarfile
import urllib.request
import zipfile

OFFICIAL = 'https://github.com/brendenlake/omniglot/raw/master/python/'
FOLDERS = ('images_background', 'images_evaluation')


def extract(archive: str, out: str) -> None:
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive, 'r:*') as tar:
            for member in tar.getmembers():
                parts = member.name.split('/')
                for i, part in enumerate(parts):
                    if part in FOLDERS:
                        member.name = '/'.join(parts[i:])
                        tar.extract(member, out, filter='data')
                        break
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(out)
    else:
        raise ValueError(f'{archive} is neither a tar nor a zip archive')


def build_parser() -> argparse.ArgumentParser:
    """This tool's command line (also read by the docs check,
    tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--archive', nargs='*', default=[],
                        help='.tar.gz holding both folders, or the two zips')
    parser.add_argument('--download', action='store_true',
                        help='download the official zip files first')
    parser.add_argument('--splits', help='folder of the Vinyals split files')
    parser.add_argument('--out', default='data/omniglot')
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    archives = list(args.archive)
    if args.download:
        for name in FOLDERS:
            target = osp.join(args.out, name + '.zip')
            if not osp.isfile(target):
                print(f'downloading {name}.zip')
                urllib.request.urlretrieve(OFFICIAL + name + '.zip', target)
            archives.append(target)
    if not archives:
        parser.error('give --archive or --download')
    for archive in archives:
        if not osp.isfile(archive):
            raise FileNotFoundError(f'archive {archive} not found')
        print(f'extracting {archive} -> {args.out}')
        extract(archive, args.out)
    missing = [f for f in FOLDERS if not osp.isdir(osp.join(args.out, f))]
    if missing:
        raise FileNotFoundError(f'{args.out} lacks {missing} after '
                                'extraction: was this the Omniglot release?')
    if args.splits:
        target = osp.join(args.out, 'splits', 'vinyals')
        os.makedirs(target, exist_ok=True)
        for name in ('train', 'val', 'test', 'trainval'):
            src = osp.join(args.splits, name + '.txt')
            if not osp.isfile(src):
                raise FileNotFoundError(f'split file {src} not found')
            shutil.copy(src, target)
    print(f'Omniglot ready in {args.out}')


if __name__ == '__main__':
    main()
