"""Loading checkpoint files as data: weights-only unpickling with a short
allow-list, errors that name the file, and strict loads into a model.

A ``.pth`` file is a pickle, and a pickle can run code when it is loaded.
mmmtl never fully unpickles a file a user may have been handed:
:func:`load_checkpoint_file` calls ``torch.load(weights_only=True)`` and,
only for the duration of that call, allows the few types an mmengine
checkpoint of ours holds besides tensors (mmengine's ``HistoryBuffer`` of
the message hub, numpy arrays, dtypes and scalars). torch's own default is
left as it is. Before torch reads a zip checkpoint, its records' CRCs are
verified and their declared sizes bounded (a damaged or inflating file is
refused without being unpacked). :func:`register_checkpoint_loader` (run at
``import mmmtl``) makes it mmengine's loader for local files and http(s)
URLs (downloaded into torch.hub's cache, then read as a local file), and
refuses mmengine's other URL schemes, so ``load_from``, ``--resume``,
``init_cfg=Pretrained`` and ``mmengine.runner.load_checkpoint`` use it too.
"""
import logging
import os
import os.path as osp
import pickle
import re
import zipfile
from collections import OrderedDict
from typing import Callable, List, Optional, Sequence, Tuple, Union
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import HistoryBuffer, print_log

# the statistics methods mmengine's HistoryBuffer pickles with its state, as
# getattr(HistoryBuffer, name)
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')
# numeric dtypes whose arrays / scalars a message hub may hold (no object
# dtype: its items would be arbitrary pickled objects)
_NUMPY_DTYPES = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                 np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                 np.float64)
# a zip checkpoint may declare at most this many times its own size (plus
# _INFLATE_SLACK bytes) as the inflated size of its records: torch stores
# records uncompressed, so a real checkpoint declares about its own size
MAX_INFLATION = 4
_INFLATE_SLACK = 1 << 20
_ZIP_MAGIC = b'PK\x03\x04'
_PICKLE_MAGIC = b'\x80'  # pickle protocol >= 2: torch's legacy format


def _history_buffer_method(owner, name: str) -> Callable:
    """Stands in for ``getattr`` while unpickling: mmengine's HistoryBuffer
    pickles its statistics methods as ``getattr(HistoryBuffer, 'mean')``;
    nothing else may be fetched."""
    if owner is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refused getattr({owner!r}, {name!r}): only the statistics methods '
        f'{_HISTORY_BUFFER_METHODS} of HistoryBuffer are allowed')


def checkpoint_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The types and functions (beyond torch's defaults) that unpickling an
    mmmtl checkpoint may use, in the form of
    ``torch.serialization.safe_globals``."""
    multiarray = (np._core.multiarray
                  if hasattr(np, '_core') else np.core.multiarray)
    allowed: List[Union[Callable, Tuple[Callable, str]]] = [
        HistoryBuffer, (_history_buffer_method, 'builtins.getattr'),
        np.ndarray, np.dtype
    ]
    allowed += [type(np.dtype(t)) for t in _NUMPY_DTYPES]
    # numpy 2 pickles name numpy._core, numpy 1 numpy.core
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        allowed += [(multiarray._reconstruct, f'{module}._reconstruct'),
                    (multiarray.scalar, f'{module}.scalar')]
    return allowed


def _weights_only_reason(err: Exception) -> str:
    """The reason in torch's weights-only refusal, without its advice to
    load with ``weights_only=False`` or to allow-list the type (mmmtl does
    neither for a file it was handed)."""
    text = str(err)
    marker = 'WeightsUnpickler error:'
    if marker in text:
        text = text.split(marker, 1)[1]
    parts = [
        part.strip() for part in text.split('\n\n')
        if part.strip() and not part.strip().startswith((
            'Weights only load failed', 'Check the documentation'))
    ]
    reason = parts[0] if parts else text.strip()
    return reason.split(' Please use `torch.serialization')[0].rstrip('.')


def is_url(filename) -> bool:
    """Whether ``filename`` names a URL (``scheme://...``, as mmengine's
    checkpoint schemes do) rather than a local file."""
    return '://' in os.fspath(filename)


def _check_zip(filename: str, size: int) -> None:
    """Refuse a zip checkpoint whose records would inflate beyond
    :data:`MAX_INFLATION` x its size, or whose CRCs do not match (torch's
    reader does not verify them), before torch unpacks anything."""
    try:
        with zipfile.ZipFile(filename) as archive:
            records = archive.infolist()
            declared = sum(r.file_size for r in records)
            limit = MAX_INFLATION * size + _INFLATE_SLACK
            if declared > limit:
                largest = max(records, key=lambda r: r.file_size)
                raise RuntimeError(
                    f'checkpoint {filename} declares {declared} bytes of '
                    f'records ({largest.filename}: {largest.file_size} bytes '
                    f'from {largest.compress_size}) for a {size}-byte file, '
                    f'over the limit of {limit} ({MAX_INFLATION}x its size); '
                    'torch stores records uncompressed, so this is not a '
                    'checkpoint it wrote. Nothing was inflated.')
            damaged = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError,
            EOFError) as err:
        raise RuntimeError(f'cannot read checkpoint {filename} (truncated or '
                           f'damaged zip archive): {err}') from err
    if damaged is not None:
        raise RuntimeError(
            f'checkpoint {filename} is damaged: the CRC of its record '
            f'{damaged} does not match its data (a changed or corrupted '
            'file); refused')


def _check_file(filename: str) -> None:
    """Refuse what is not a checkpoint file before torch reads it: no file,
    a directory, an empty file, a file that is neither torch's zip format
    nor its legacy pickle, a damaged or inflating zip."""
    if osp.isdir(filename):
        found = sorted(f for f in os.listdir(filename) if f.endswith('.pth'))
        hint = (f'; it holds {_listed(found)}' if found else '')
        raise IsADirectoryError(
            f'checkpoint {filename} is a directory, not a checkpoint file '
            f'(give the .pth file itself{hint})')
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    size = osp.getsize(filename)
    if size == 0:
        raise RuntimeError(f'checkpoint {filename} is empty (0 bytes)')
    with open(filename, 'rb') as f:
        head = f.read(len(_ZIP_MAGIC))
    if head == _ZIP_MAGIC:
        _check_zip(filename, size)
    elif not head.startswith(_PICKLE_MAGIC):
        raise RuntimeError(
            f'checkpoint {filename} is not a torch checkpoint: it is neither '
            'a zip archive (torch.save) nor a pickle (torch\'s legacy '
            f'format); it starts with {head!r}')


def load_checkpoint_file(filename: str, map_location=None):
    """Read a checkpoint file with ``torch.load(weights_only=True)``,
    allowing :func:`checkpoint_safe_globals` for this call only.

    ``filename`` may be an http(s) URL: :func:`load_url_checkpoint`. Raises
    FileNotFoundError, IsADirectoryError, ``pickle.UnpicklingError`` (a
    type outside the allow-list: nothing of it was run) or RuntimeError (an
    empty, truncated, damaged, inflating or non-checkpoint file), each
    naming ``filename``.
    """
    if is_url(filename):
        return load_url_checkpoint(filename, map_location)
    filename = osp.expanduser(os.fspath(filename))
    _check_file(filename)
    # allow, for this call, what is not allowed already (the context
    # removes on exit what it added, so entries of the caller stay)
    present = torch.serialization.get_safe_globals()
    added = [g for g in checkpoint_safe_globals() if g not in present]
    try:
        with torch.serialization.safe_globals(added):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(
            f'checkpoint {filename} was refused by weights-only loading: '
            f'{_weights_only_reason(err)}. mmmtl allows only tensors and the '
            'types its own checkpoints hold (mmengine HistoryBuffer, numpy '
            'arrays and scalars); any other pickled object could run code, so '
            'the file is either damaged or not a plain checkpoint. Nothing in '
            'it was executed.') from None
    except Exception as err:
        raise RuntimeError(
            f'cannot read checkpoint {filename} (truncated, damaged or not a '
            f'torch checkpoint): {type(err).__name__}: {err}') from err


def load_url_checkpoint(url: str, map_location=None):
    """Load an http(s) checkpoint as :func:`load_checkpoint_file` loads a
    local one: the file is downloaded (rank 0 first) into torch.hub's cache,
    ``$TORCH_HOME/hub/checkpoints/<file name>``, unless it is there
    already, and then read weights-only. Errors name the URL and the
    cached file. Other URL schemes are refused (:func:`refuse_url`).
    """
    scheme = urlparse(url).scheme
    if scheme not in ('http', 'https'):
        refuse_url(url)
    name = osp.basename(urlparse(url).path)
    if not name:
        raise ValueError(f'checkpoint URL {url} names no file')
    cached = osp.join(torch.hub.get_dir(), 'checkpoints', name)
    rank, world_size = get_dist_info()
    for turn in ((0, 1) if world_size > 1 else (rank, )):
        if rank == turn and not osp.isfile(cached):
            os.makedirs(osp.dirname(cached), exist_ok=True)
            try:  # torch writes a temporary file and renames it
                torch.hub.download_url_to_file(url, cached, progress=False)
            except Exception as err:
                raise RuntimeError(f'cannot download checkpoint {url} to '
                                   f'{cached}: {err}') from err
        if world_size > 1 and turn == 0:
            barrier()
    try:
        return load_checkpoint_file(cached, map_location)
    except Exception as err:
        raise type(err)(f'checkpoint URL {url} (cached as {cached}): '
                        f'{err}') from None


def refuse_url(filename: str, map_location=None):
    """mmengine's loaders of URL schemes other than http(s) (``s3://``,
    ``pavi://``, ``open-mmlab://``, ``torchvision://``, ...) unpickle the
    file fully; mmmtl refuses them."""
    raise ValueError(
        f'checkpoint {filename}: mmmtl loads checkpoints weights-only from '
        'local files and http(s) URLs only (mmengine\'s loader for this '
        'scheme would fully unpickle the file, which can run code); download '
        'the file and give its local path')


def _state_dict_of(checkpoint, filename: str) -> dict:
    state_dict = checkpoint
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        state_dict = checkpoint['state_dict']
    if not isinstance(state_dict, dict) or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f'checkpoint {filename} holds no state_dict (a '
                         'dict of tensors, alone or under "state_dict")')
    return state_dict


def _listed(items: Sequence[str], limit: int = 5) -> str:
    more = f' and {len(items) - limit} more' if len(items) > limit else ''
    return ', '.join(items[:limit]) + more


def load_weights(model: torch.nn.Module,
                 checkpoint,
                 filename: str,
                 strict: bool = True,
                 config: Optional[str] = None,
                 revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.',
                                                            ''), )) -> None:
    """Load the state_dict of ``checkpoint`` (a loaded checkpoint file) into
    ``model``.

    ``strict``: every model key must be in the checkpoint and every
    checkpoint key in the model. Not strict (a partial start on purpose,
    ``load_from_strict=False`` in a config): missing and unexpected keys are
    logged, but at least one key must match. Tensors of another shape are an
    error either way. Errors name ``filename`` and ``config``.
    """
    state_dict = _state_dict_of(checkpoint, filename)
    metadata = getattr(state_dict, '_metadata', None)
    for pattern, replacement in revise_keys:
        state_dict = OrderedDict(
            (re.sub(pattern, replacement, k), v)
            for k, v in state_dict.items())
    if metadata is not None:
        state_dict._metadata = metadata
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f'{k} (checkpoint {tuple(v.shape)}, model '
        f'{tuple(expected[k].shape)})' for k, v in state_dict.items()
        if k in expected and v.shape != expected[k].shape
    ]
    what = f'checkpoint {filename}'
    model_name = type(model).__name__
    target = (f'the {model_name} of config {config}'
              if config else f'the {model_name} model')
    # a float model filled from integer or boolean tensors (or the reverse)
    # would be cast silently: refuse; another float precision: warn
    retyped = [(k, v.dtype, expected[k].dtype) for k, v in state_dict.items()
               if k in expected and v.dtype != expected[k].dtype]
    wrong_kind = [
        f'{k} (checkpoint {a}, model {b})' for k, a, b in retyped
        if (a.is_floating_point, a == torch.bool) != (b.is_floating_point,
                                                      b == torch.bool)
    ]
    problems = []
    if wrong_kind:
        problems.append(f'{len(wrong_kind)} tensors have another kind of '
                        f'dtype: {_listed(wrong_kind)}')
    if mismatched:
        problems.append(f'{len(mismatched)} tensors have another shape: '
                        f'{_listed(mismatched)}')
    if strict and missing:
        problems.append(f'{len(missing)} model keys are missing: '
                        f'{_listed(missing)}')
    if strict and unexpected:
        problems.append(f'{len(unexpected)} keys are not in the model: '
                        f'{_listed(unexpected)}')
    if not strict and len(unexpected) == len(state_dict):
        problems.append('none of its keys is a key of the model')
    if problems:
        hint = ('. Use the config the checkpoint was trained with (to start '
                'training from part of a checkpoint on purpose, set '
                'load_from_strict=False)' if strict else '')
        raise RuntimeError(f'{what} does not fit {target} ('
                           f'{"strict" if strict else "partial"} load): '
                           + '; '.join(problems) + hint)
    model.load_state_dict(state_dict, strict=False)
    if retyped:
        print_log(
            f'{what}: {len(retyped)} tensors were cast to the model\'s '
            'dtype: ' + _listed([f'{k} ({a} to {b})'
                                 for k, a, b in retyped]),
            logger='current',
            level=logging.WARNING)
    if missing or unexpected:
        print_log(
            f'partial load of {what} into {target}: {len(missing)} model '
            f'keys kept their initial values ({_listed(missing)}), '
            f'{len(unexpected)} checkpoint keys were ignored '
            f'({_listed(unexpected)})',
            logger='current',
            level=logging.WARNING)


def register_checkpoint_loader() -> None:
    """Make :func:`load_checkpoint_file` mmengine's loader for local files,
    :func:`load_url_checkpoint` its loader for http(s) URLs and
    :func:`refuse_url` the loader of its other URL schemes, so that
    ``load_from``, ``--resume``, ``init_cfg=Pretrained`` and
    ``mmengine.runner.load_checkpoint`` read weights-only (mmengine 0.10.7
    calls ``torch.load`` without ``weights_only``, and
    ``torch.hub.load_state_dict_from_url`` with ``weights_only=False``).
    Called at ``import mmmtl``; torch's own default is not changed."""
    from mmengine.runner.checkpoint import CheckpointLoader
    schemes = CheckpointLoader._schemes  # mmengine has no public listing
    others = [p for p in schemes if p not in ('', 'http://', 'https://')]
    CheckpointLoader.register_scheme(
        prefixes='',
        loader=_named(load_checkpoint_file, 'weights-only local'),
        force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'),
        loader=_named(load_url_checkpoint, 'weights-only http(s)'),
        force=True)
    if others:
        CheckpointLoader.register_scheme(
            prefixes=others, loader=_named(refuse_url, 'refused URL'),
            force=True)


def _named(loader: Callable, backend: str) -> Callable:
    """``loader`` under the name mmengine's log reads the backend from
    (``load_from_<backend>``)."""

    def load(filename, map_location=None):
        return loader(filename, map_location)

    load.__name__ = f'load_from_{backend}'
    return load
