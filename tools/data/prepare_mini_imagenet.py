"""Prepare data/mini_imagenet (Ravi & Larochelle split) from public downloads.

From ImageNet (MMFewShot's layout: full class folders + the split CSVs):

    python tools/data/prepare_mini_imagenet.py --csv-dir path/to/csvs \
        --imagenet path/to/ILSVRC2012/train [--mode symlink|copy]
    python tools/data/prepare_mini_imagenet.py --csv-dir path/to/csvs \
        --imagenet ILSVRC2012_img_train.tar

``--imagenet`` is the ILSVRC2012 train folder (``<wnid>/<wnid>_<num>.JPEG``;
the 100 class folders are linked or copied) or its tar of per-class tars
(the 100 classes are unpacked). Add ``--precut`` to write the 84x84 pre-cut
layout instead (each CSV image resized, named as in the CSV).

From the pre-cut release (``images/*.jpg`` named as in the CSVs):

    python tools/data/prepare_mini_imagenet.py --archive mini-imagenet.zip
    python tools/data/prepare_mini_imagenet.py --images path/to/images \
        --csv-dir path/to/csvs

The archive (zip or tar) may hold the CSVs too. Everything goes to OUT
(default data/mini_imagenet): ``{train,val,test}.csv`` and ``images/``.
No network access is needed.
"""
import argparse
import os
import os.path as osp
import shutil
import tarfile
import zipfile

from PIL import Image

from mmmtl.datasets.mini_imagenet import (MiniImageNet,
                                          numbered_class_images,
                                          read_split_csv)

SPLITS = ('train', 'val', 'test')


def place(src: str, dst: str, mode: str) -> None:
    """Symlink (absolute) or copy a file or folder to ``dst``."""
    if osp.lexists(dst):
        return
    if mode == 'symlink':
        os.symlink(osp.abspath(src), dst)
    elif osp.isdir(src):
        shutil.copytree(src, dst)
    else:
        shutil.copy2(src, dst)


def copy_csvs(csv_dir: str, out: str) -> None:
    for split in SPLITS:
        src = osp.join(csv_dir, f'{split}.csv')
        if not osp.isfile(src):
            raise FileNotFoundError(
                f'split file {src} not found: --csv-dir must hold the Ravi & '
                'Larochelle train.csv, val.csv and test.csv')
        if osp.abspath(src) != osp.abspath(osp.join(out, f'{split}.csv')):
            shutil.copy(src, out)


def split_rows(out: str) -> dict:
    return {s: read_split_csv(osp.join(out, f'{s}.csv')) for s in SPLITS}


def wnids_of(rows: dict) -> list:
    seen = {}
    for split in SPLITS:
        for _, wnid, _, _ in rows[split]:
            seen.setdefault(wnid, None)
    return list(seen)


def unpack_imagenet_tar(archive: str, wnids: list, target: str) -> None:
    """Unpack the class tars ``<wnid>.tar`` of ILSVRC2012_img_train.tar into
    ``target/<wnid>/``."""
    wanted = set(wnids)
    found = set()
    with tarfile.open(archive) as outer:
        for member in outer:
            wnid = osp.basename(member.name)[:-len('.tar')]
            if not (member.isfile() and member.name.endswith('.tar')
                    and wnid in wanted):
                continue
            found.add(wnid)
            class_dir = osp.join(target, wnid)
            os.makedirs(class_dir, exist_ok=True)
            with tarfile.open(fileobj=outer.extractfile(member)) as inner:
                inner.extractall(class_dir, filter='data')
            print(f'unpacked {wnid} ({len(found)}/{len(wanted)})')
    missing = sorted(wanted - found)
    if missing:
        raise FileNotFoundError(
            f'{archive} lacks the class tars of {len(missing)} miniImageNet '
            f'classes, e.g. {missing[0]}.tar: is it ILSVRC2012_img_train.tar?')


def from_imagenet(imagenet: str, out: str, mode: str, precut: bool,
                  size: int) -> None:
    rows = split_rows(out)
    wnids = wnids_of(rows)
    images_dir = osp.join(out, 'images')
    os.makedirs(images_dir, exist_ok=True)
    staging = None
    if osp.isfile(imagenet):
        if not precut:
            unpack_imagenet_tar(imagenet, wnids, images_dir)
            return
        staging = osp.join(out, 'imagenet_classes')
        unpack_imagenet_tar(imagenet, wnids, staging)
        imagenet = staging
    elif not osp.isdir(imagenet):
        raise FileNotFoundError(f'--imagenet {imagenet} is neither a folder '
                                'nor a tar file')
    missing = [w for w in wnids if not osp.isdir(osp.join(imagenet, w))]
    if missing:
        raise FileNotFoundError(
            f'{imagenet} lacks {len(missing)} miniImageNet class folders, '
            f'e.g. {missing[0]}/: give the ILSVRC2012 train folder '
            '(<wnid>/<wnid>_<num>.JPEG)')
    if not precut:
        for wnid in wnids:
            place(osp.join(imagenet, wnid), osp.join(images_dir, wnid), mode)
        return
    for split in SPLITS:
        listings = {}
        for filename, wnid, k, lineno in rows[split]:
            if wnid not in listings:
                listings[wnid] = numbered_class_images(
                    osp.join(imagenet, wnid), wnid)
            files = listings[wnid]
            if not 1 <= k <= len(files):
                raise FileNotFoundError(
                    f'{split}.csv line {lineno} names {filename} (image {k} '
                    f'of {wnid}) but {osp.join(imagenet, wnid)} holds '
                    f'{len(files)} images')
            dst = osp.join(images_dir, filename)
            if not osp.exists(dst):
                with Image.open(osp.join(imagenet, wnid, files[k - 1])) as im:
                    im.convert('RGB').resize((size, size),
                                             Image.LANCZOS).save(dst)
        print(f'{split}: wrote {len(rows[split])} images of {size}x{size}')
    if staging is not None:
        shutil.rmtree(staging)


def extract_precut_archive(archive: str, out: str) -> None:
    """Extract ``images/*.jpg`` and the split CSVs of a pre-cut release,
    dropping any leading folders."""
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive, 'r:*') as tar:
            members = [(m.name, m) for m in tar.getmembers() if m.isfile()]

            def read(member):
                return tar.extractfile(member).read()

            _write_precut(members, read, out)
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            members = [(n, n) for n in zf.namelist() if not n.endswith('/')]
            _write_precut(members, zf.read, out)
    else:
        raise ValueError(f'{archive} is neither a tar nor a zip archive')


def _write_precut(members, read, out: str) -> None:
    images_dir = osp.join(out, 'images')
    os.makedirs(images_dir, exist_ok=True)
    for name, member in members:
        parts = name.replace('\\', '/').split('/')
        if parts[-1] in {f'{s}.csv' for s in SPLITS}:
            dst = osp.join(out, parts[-1])
        elif len(parts) >= 2 and parts[-2] == 'images' and \
                parts[-1].endswith('.jpg'):
            dst = osp.join(images_dir, parts[-1])
        else:
            continue
        with open(dst, 'wb') as f:
            f.write(read(member))


def from_precut_folder(images: str, out: str, mode: str) -> None:
    rows = split_rows(out)
    images_dir = osp.join(out, 'images')
    if osp.abspath(images) == osp.abspath(images_dir):
        return
    os.makedirs(images_dir, exist_ok=True)
    for split in SPLITS:
        for filename, wnid, _, lineno in rows[split]:
            src = osp.join(images, filename)
            if not osp.isfile(src):
                raise FileNotFoundError(
                    f'{src} (class {wnid}, {split}.csv line {lineno}) not '
                    'found: --images must hold the pre-cut images named as '
                    'in the CSVs')
            place(src, osp.join(images_dir, filename), mode)


def build_parser() -> argparse.ArgumentParser:
    """This tool's command line (also read by the docs check,
    tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--csv-dir', help='folder of train/val/test.csv')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--imagenet', help='ILSVRC2012 train folder or tar')
    source.add_argument('--images', help='folder of pre-cut images')
    source.add_argument('--archive', help='zip / tar of the pre-cut release')
    parser.add_argument('--out', default='data/mini_imagenet')
    parser.add_argument(
        '--mode',
        choices=['symlink', 'copy'],
        default='symlink',
        help='link or copy class folders / images (default: symlink)')
    parser.add_argument(
        '--precut',
        action='store_true',
        help='with --imagenet: write the 84x84 pre-cut layout')
    parser.add_argument('--size', type=int, default=84,
                        help='side of the pre-cut images')
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    if args.archive:
        if not osp.isfile(args.archive):
            raise FileNotFoundError(f'archive {args.archive} not found')
        print(f'extracting {args.archive} -> {args.out}')
        extract_precut_archive(args.archive, args.out)
    if args.csv_dir:
        copy_csvs(args.csv_dir, args.out)
    missing = [s for s in SPLITS
               if not osp.isfile(osp.join(args.out, f'{s}.csv'))]
    if missing:
        parser.error(f'no {missing[0]}.csv: give --csv-dir (the Ravi & '
                     'Larochelle split files)')
    if args.imagenet:
        from_imagenet(args.imagenet, args.out, args.mode, args.precut,
                      args.size)
    elif args.images:
        from_precut_folder(args.images, args.out, args.mode)

    for split in SPLITS:
        dataset = MiniImageNet(data_root=args.out, split=split)
        print(f'{split}: {dataset.num_classes} classes, {len(dataset)} '
              f'images ({dataset.resolved_layout} layout)')
    print(f'miniImageNet ready in {args.out}')


if __name__ == '__main__':
    main()
