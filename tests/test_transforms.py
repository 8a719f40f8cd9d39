"""LoadImage decodes a file and the same file's bytes in memory into the
same array, as mmcv's LoadImageFromFile decodes the file; it names the item
it cannot decode."""
import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from PIL import Image

from mmmtl.datasets import LoadImage


@pytest.fixture(params=['png', 'jpg'])
def image_file(request, tmp_path):
    """A noisy RGB image (JPEG: lossy, so decoders can differ) and a grey
    one, as files."""
    rng = np.random.default_rng(0)
    paths = []
    for name, shape in (('rgb', (37, 53, 3)), ('grey', (29, 31))):
        path = str(tmp_path / f'{name}.{request.param}')
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(
            path)
        paths.append(path)
    return paths


@pytest.mark.parametrize('options', [
    dict(),
    dict(channel_order='rgb'),
    dict(color_type='grayscale'),
    dict(color_type='unchanged'),
    dict(backend='pillow', to_float32=True),
])
def test_path_and_bytes_give_the_same_pixels(image_file, options):
    for path in image_file:
        with open(path, 'rb') as f:
            raw = f.read()
        from_path = LoadImage(**options)(dict(img_path=path))['img']
        from_bytes = LoadImage(**options)(
            dict(img_bytes=raw, sample_idx=0))
        assert 'img_bytes' not in from_bytes
        np.testing.assert_array_equal(from_bytes['img'], from_path)
        assert from_bytes['img_shape'] == from_bytes['ori_shape'] == (
            from_path.shape[:2])
        # numpy arrays of the bytes (the original tieredImageNet release)
        np.testing.assert_array_equal(
            LoadImage(**options)(dict(
                img_bytes=np.frombuffer(raw, np.uint8)))['img'], from_path)


def test_files_decode_as_mmcv_loads_them(image_file):
    for path in image_file:
        for options, mmcv_options in (
            (dict(), dict()),
            (dict(color_type='grayscale', backend='pillow',
                  to_float32=True),
             dict(color_type='grayscale', imdecode_backend='pillow',
                  to_float32=True)),
        ):
            ours = LoadImage(**options)(dict(img_path=path))
            theirs = LoadImageFromFile(**mmcv_options)(dict(img_path=path))
            np.testing.assert_array_equal(ours['img'], theirs['img'])
            assert ours['img'].dtype == theirs['img'].dtype


def test_colour_image_in_bgr_by_default(tmp_path):
    path = str(tmp_path / 'red.png')
    cv2.imwrite(path, np.full((4, 4, 3), (0, 0, 255), np.uint8))  # BGR red
    img = LoadImage()(dict(img_path=path))['img']
    assert img[0, 0].tolist() == [0, 0, 255]
    img = LoadImage(channel_order='rgb')(dict(img_path=path))['img']
    assert img[0, 0].tolist() == [255, 0, 0]


def test_errors_name_the_item(tmp_path):
    with pytest.raises(ValueError, match='dataset index 7'):
        LoadImage()(dict(img_bytes=b'not an image', sample_idx=7))
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'not an image')
    with pytest.raises(ValueError, match='bad.jpg'):
        LoadImage()(dict(img_path=str(bad)))
    with pytest.raises(KeyError, match='neither "img_bytes" nor "img_path"'):
        LoadImage()(dict(img=np.zeros((2, 2)), sample_idx=1))
    with pytest.raises(ValueError, match='channel_order'):
        LoadImage(channel_order='gbr')
