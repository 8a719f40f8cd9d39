"""Image transforms the few-shot datasets need beyond mmcv / mmpretrain's:
decoding an image from a file or from encoded bytes kept in memory, the
test-time crop that leaves pre-cut images as they are, and the BGR -> RGB flip
that lets RGB normalisation statistics apply after mmcv's BGR transforms."""
from typing import Optional, Sequence

import cv2
import mmcv
import mmengine.fileio
import numpy as np
from mmcv.transforms import BaseTransform

from mmmtl.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImage(BaseTransform):
    """Decode an image into ``img`` from an encoded PNG / JPEG in memory
    (``results['img_bytes']``, as tieredImageNet ships them) or from a file
    (``results['img_path']``, as mmcv's ``LoadImageFromFile``).

    Both go through one decoder (:func:`mmcv.imfrombytes`), so an image
    gives the same array as a file or as bytes, and a base config's
    pipeline serves every dataset whatever its storage. The bytes are
    dropped after decoding so that batches do not carry them.

    Args:
        color_type: ``'color'`` (3 channels, grey images are expanded),
            ``'grayscale'`` or ``'unchanged'`` (the flag of
            :func:`mmcv.imfrombytes`).
        channel_order: ``'bgr'`` (mmcv's convention, which its photometric
            transforms assume) or ``'rgb'``.
        backend: decoding backend, ``'cv2'`` or ``'pillow'``.
        to_float32: return a float32 image instead of uint8.
    """

    def __init__(self,
                 color_type: str = 'color',
                 channel_order: str = 'bgr',
                 backend: str = 'cv2',
                 to_float32: bool = False) -> None:
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError('LoadImage: channel_order must be '
                             f"'bgr' or 'rgb', got {channel_order!r}")
        self.color_type = color_type
        self.channel_order = channel_order
        self.backend = backend
        self.to_float32 = to_float32

    def transform(self, results: dict) -> dict:
        if 'img_bytes' in results:
            raw = results.pop('img_bytes')
            if isinstance(raw, np.ndarray):  # the original release's arrays
                raw = raw.tobytes()
            where = f"dataset index {results.get('sample_idx', '?')}"
        elif 'img_path' in results:
            raw = mmengine.fileio.get(results['img_path'])
            where = results['img_path']
        else:
            raise KeyError(
                'LoadImage: dataset index '
                f"{results.get('sample_idx', '?')} has neither "
                f'"img_bytes" nor "img_path" (fields: {sorted(results)})')
        try:
            img = mmcv.imfrombytes(
                raw,
                flag=self.color_type,
                channel_order=self.channel_order,
                backend=self.backend)
        except Exception as err:  # decoders raise many types on bad data
            raise ValueError(f'LoadImage: cannot decode the image at '
                             f'{where} ({len(raw)} bytes): {err}') from err
        if img is None or img.size == 0:
            raise ValueError(f'LoadImage: cannot decode the image at '
                             f'{where} ({len(raw)} bytes): not a valid '
                             'PNG / JPEG')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(color_type={self.color_type!r}, '
                f'channel_order={self.channel_order!r}, '
                f'backend={self.backend!r}, to_float32={self.to_float32})')


_CV2_COLOUR_DTYPES = (np.uint8, np.uint16, np.float32)


@TRANSFORMS.register_module()
class BGRToRGB(BaseTransform):
    """Reverse the channel order of 3-channel images (BGR <-> RGB).

    mmcv loads BGR and its colour transforms (e.g. mmpretrain's
    ``ColorJitter``) assume BGR, so the flip goes after them, just before
    ``ImageToTensor``: the model then normalises with RGB statistics.

    Args:
        keys: the image fields to convert.
    """

    def __init__(self, keys: Sequence[str] = ('img', )) -> None:
        self.keys = tuple(keys)

    def transform(self, results: dict) -> Optional[dict]:
        for key in self.keys:
            img = results[key]
            if img.ndim == 3 and img.shape[2] == 3:
                # cv2 swaps channels ~20x faster than a strided numpy copy
                results[key] = (
                    cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
                    if img.dtype in _CV2_COLOUR_DTYPES else
                    np.ascontiguousarray(img[..., ::-1]))
            elif not (img.ndim == 2 or img.shape[2] == 1):
                raise ValueError(f'BGRToRGB: {key} has shape {img.shape}; '
                                 'expected HxWx3 (or a grey image)')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(keys={self.keys})'


@TRANSFORMS.register_module()
class ResizeCenterCrop(BaseTransform):
    """The test-time crop of full-size images that leaves pre-cut ones as
    they are.

    An image that is already ``crop_size`` x ``crop_size`` (pre-cut
    miniImageNet, tieredImageNet) passes unchanged. Any other image gets
    the classic evaluation crop: its short edge resized to ``resize_short``
    (mmpretrain's ``ResizeEdge``), then the centre ``crop_size`` square
    (mmcv's ``CenterCrop``). Resizing a pre-cut 84x84 image to 96 and
    cropping 84 would zoom in and throw away its border; full-size ImageNet
    or CUB files need the resize and crop. One transform does the right
    thing for both, so a base config serves every layout.

    Args:
        crop_size: side of the square output.
        resize_short: short edge before cropping (96 for 84: ratio 0.875).
        interpolation: resize interpolation (of ``ResizeEdge``).
    """

    def __init__(self,
                 crop_size: int = 84,
                 resize_short: int = 96,
                 interpolation: str = 'bilinear') -> None:
        if not 0 < crop_size <= resize_short:
            raise ValueError(
                f'ResizeCenterCrop: need 0 < crop_size <= resize_short, got '
                f'crop_size={crop_size}, resize_short={resize_short}')
        self.crop_size = crop_size
        self.resize_short = resize_short
        self.interpolation = interpolation
        self.resize = TRANSFORMS.build(
            dict(
                type='mmpretrain.ResizeEdge',
                scale=resize_short,
                edge='short',
                interpolation=interpolation))
        self.crop = TRANSFORMS.build(
            dict(type='CenterCrop', crop_size=crop_size))

    def transform(self, results: dict) -> dict:
        if results['img'].shape[:2] == (self.crop_size, self.crop_size):
            return results
        return self.crop(self.resize(results))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(crop_size={self.crop_size}, '
                f'resize_short={self.resize_short}, '
                f'interpolation={self.interpolation!r})')
