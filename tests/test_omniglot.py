import os
import os.path as osp
import tarfile
import zipfile

import numpy as np
import pytest

from mmmtl.datasets import Omniglot


def _arrays(ds):
    return np.stack([ds.get_data_info(i)['img'] for i in range(len(ds))])


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
