import importlib.util
import os
import os.path as osp
import shutil
import tarfile
import zipfile

import numpy as np
import pytest

import conftest
from conftest import REPO
from mmmtl.datasets import Omniglot


def _arrays(ds):
    return np.stack([ds.get_data_info(i)['img'] for i in range(len(ds))])


@pytest.mark.parametrize('required, outcome', [
    ('', 'skip'), ('0', 'skip'), ('1', 'fail'), ('omniglot', 'fail'),
    (' Omniglot , ', 'fail')
])
def test_missing_real_omniglot_skips_or_fails_as_required(
        monkeypatch, required, outcome):
    """Absent real Omniglot: the test skips, unless MMMTL_REQUIRE_DATA (1,
    or a list naming omniglot) says CI has it, then it fails."""
    monkeypatch.setattr(conftest, 'find_omniglot', lambda: None)
    monkeypatch.setenv('MMMTL_REQUIRE_DATA', required)
    expected = dict(skip=pytest.skip.Exception, fail=pytest.fail.Exception)
    with pytest.raises(expected[outcome], match='real Omniglot not found'):
        conftest.omniglot_release_paths()
    monkeypatch.setenv('MMMTL_REQUIRE_DATA', 'omniglot,mini_imagenet')
    with pytest.raises(pytest.UsageError, match="unknown.*'mini_imagenet'"):
        conftest.required_datasets()


def test_real_vinyals_split_sizes(omniglot_release):
    archive, splits = omniglot_release
    expected = dict(train=1028 * 4, val=172 * 4, test=423 * 4)
    for split, num_classes in expected.items():
        ds = Omniglot(archive, split=split, split_dir=splits)
        assert ds.num_classes == num_classes
        assert len(ds) == num_classes * 20
        assert all(len(i) == 20 for i in ds.class_to_indices)
    img = ds.get_data_info(0)['img']
    assert img.shape == (28, 28) and img.dtype == np.uint8
    # inverted: the background (most pixels) is dark
    assert np.median(_arrays(ds)[:200]) == 0


def test_real_lake_split_sizes(omniglot_release):
    archive, _ = omniglot_release
    assert Omniglot(archive, split='train', split_type='lake').num_classes \
        == 964
    ds = Omniglot(archive, split='test', split_type='lake')
    assert ds.num_classes == 659 and len(ds) == 659 * 20
    with pytest.raises(ValueError, match="split 'val' does not exist"):
        Omniglot(archive, split='val', split_type='lake')


def test_rotations_make_classes(tiny_omniglot):
    root, names = tiny_omniglot
    ds = Omniglot(root, split='train', image_size=20, invert=False)
    assert ds.classes[:4] == tuple(
        f"{names['images_background'][0]}/rot{r:03d}"
        for r in (0, 90, 180, 270))
    imgs = _arrays(ds)
    first = ds.class_to_indices
    np.testing.assert_array_equal(imgs[first[1][0]], np.rot90(imgs[first[0][0]]))
    np.testing.assert_array_equal(imgs[first[2][0]],
                                  np.rot90(imgs[first[0][0]], 2))


def test_three_release_forms_agree(tiny_omniglot, tmp_path):
    root, _ = tiny_omniglot
    splits = osp.join(root, 'splits', 'vinyals')
    zips = tmp_path / 'zips'
    zips.mkdir()
    for folder in ('images_background', 'images_evaluation'):
        with zipfile.ZipFile(zips / f'{folder}.zip', 'w') as zf:
            for dirpath, _, files in os.walk(osp.join(root, folder)):
                for f in files:
                    path = osp.join(dirpath, f)
                    zf.write(path, osp.relpath(path, root))
    tgz = tmp_path / 'omniglot_images.tar.gz'
    with tarfile.open(tgz, 'w:gz') as tar:
        for folder in ('images_background', 'images_evaluation'):
            tar.add(osp.join(root, folder), f'omniglot/{folder}')
    ref = Omniglot(root, split='test')
    for form in (str(zips), str(tgz)):
        ds = Omniglot(form, split='test', split_dir=splits)
        assert ds.classes == ref.classes
        np.testing.assert_array_equal(_arrays(ds), _arrays(ref))
        np.testing.assert_array_equal(ds.get_gt_labels(), ref.get_gt_labels())


def test_clear_errors(tiny_omniglot, tmp_path):
    root, names = tiny_omniglot
    with pytest.raises(FileNotFoundError, match='does not exist'):
        Omniglot(str(tmp_path / 'nowhere'))
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='no images found'):
        Omniglot(str(empty), split_type='lake')
    with pytest.raises(FileNotFoundError, match='split file .*val.txt'):
        Omniglot(root, split='val', split_dir=str(tmp_path))
    bad_splits = tmp_path / 'bad_splits'
    bad_splits.mkdir()
    (bad_splits / 'train.txt').write_text('Nope/character07/rot000\n')
    with pytest.raises(ValueError, match='Nope/character07'):
        Omniglot(root, split='train', split_dir=str(bad_splits))
    (bad_splits / 'val.txt').write_text('Nope/character07\n')
    with pytest.raises(ValueError, match='line 1'):
        Omniglot(root, split='val', split_dir=str(bad_splits))
    char = names['images_evaluation'][0]
    victim = sorted(os.listdir(osp.join(root, 'images_evaluation', char)))[0]
    path = osp.join(root, 'images_evaluation', char, victim)
    with open(path, 'wb') as f:
        f.write(b'not a png')
    with pytest.raises(ValueError, match=f'cannot decode image .*{victim}'):
        Omniglot(root, split='test')


def files_under(root):
    """{relative path: bytes} of every file under ``root``."""
    found = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                found[osp.relpath(path, root)] = f.read()
    return found


def test_prepare_omniglot_from_the_release_archive_and_zips(
        tiny_omniglot, tmp_path):
    """tools/data/prepare_omniglot.py (README step 1) on a tiny release in
    the shared layout: omniglot_images.tar.gz holding omniglot/{LICENSE*,
    images_background, images_evaluation} and splits_vinyals/ with a
    LICENSE; the output is exactly data/omniglot's layout with the same
    bytes. Then the two official zips, and the errors."""
    spec = importlib.util.spec_from_file_location(
        'prepare_omniglot', osp.join(REPO, 'tools/data/prepare_omniglot.py'))
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    root, _ = tiny_omniglot
    images = {
        k: v
        for k, v in files_under(root).items() if k.startswith('images_')
    }
    splits = str(tmp_path / 'splits_vinyals')
    shutil.copytree(osp.join(root, 'splits', 'vinyals'), splits)
    with open(osp.join(splits, 'LICENSE'), 'w') as f:
        f.write('split licence\n')
    archive = str(tmp_path / 'omniglot_images.tar.gz')
    licence = tmp_path / 'LICENSE.brendenlake-omniglot'
    licence.write_text('image licence\n')
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(str(licence), 'omniglot/LICENSE.brendenlake-omniglot')
        for folder in ('images_background', 'images_evaluation'):
            tar.add(osp.join(root, folder), f'omniglot/{folder}')
    expected = dict(images)
    for split in ('train', 'val', 'test', 'trainval'):
        with open(osp.join(splits, f'{split}.txt'), 'rb') as f:
            expected[osp.join('splits', 'vinyals', f'{split}.txt')] = f.read()
    out = str(tmp_path / 'out')
    prepare.main(['--archive', archive, '--splits', splits, '--out', out])
    assert files_under(out) == expected
    ref = Omniglot(root, split='test')
    ds = Omniglot(out, split='test')
    assert ds.classes == ref.classes
    np.testing.assert_array_equal(_arrays(ds), _arrays(ref))
    # the two official zips (images_background.zip, images_evaluation.zip)
    zips = []
    for folder in ('images_background', 'images_evaluation'):
        zips.append(str(tmp_path / f'{folder}.zip'))
        with zipfile.ZipFile(zips[-1], 'w') as zf:
            for name in images:
                if name.startswith(folder):
                    zf.write(osp.join(root, name), name)
    from_zips = str(tmp_path / 'from_zips')
    prepare.main(['--archive', *zips, '--out', from_zips])
    assert files_under(from_zips) == images
    # errors name what is missing
    with pytest.raises(FileNotFoundError, match='nope.tar.gz'):
        prepare.main(['--archive', str(tmp_path / 'nope.tar.gz'), '--out',
                      str(tmp_path / 'x')])
    with pytest.raises(FileNotFoundError, match='images_evaluation'):
        prepare.main(['--archive', zips[0], '--out', str(tmp_path / 'y')])
    os.remove(osp.join(splits, 'val.txt'))
    with pytest.raises(FileNotFoundError, match='val.txt'):
        prepare.main(['--archive', archive, '--splits', splits, '--out',
                      str(tmp_path / 'z')])
