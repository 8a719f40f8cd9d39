"""Loading checkpoint files as data: weights-only unpickling with a short
allow-list, errors that name the file, and strict loads into a model.

A ``.pth`` file is a pickle, and a pickle can run code when it is loaded.
mmmtl never fully unpickles a file a user may have been handed:
:func:`load_checkpoint_file` calls ``torch.load(weights_only=True)`` and,
only for the duration of that call, allows the few types an mmengine
checkpoint of ours holds besides tensors (mmengine's ``HistoryBuffer`` of
the message hub, numpy arrays, dtypes and scalars). torch's own default is
left as it is. :func:`register_checkpoint_loader` (run at ``import mmmtl``)
makes it mmengine's loader for local files, so ``load_from``, ``--resume``,
``init_cfg=Pretrained`` and ``mmengine.runner.load_checkpoint`` use it too.
"""
import logging
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log

# the statistics methods mmengine's HistoryBuffer pickles with its state, as
# getattr(HistoryBuffer, name)
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')
# numeric dtypes whose arrays / scalars a message hub may hold (no object
# dtype: its items would be arbitrary pickled objects)
_NUMPY_DTYPES = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                 np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                 np.float64)


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


def load_checkpoint_file(filename: str, map_location=None):
    """Read a checkpoint file with ``torch.load(weights_only=True)``,
    allowing :func:`checkpoint_safe_globals` for this call only.

    Raises FileNotFoundError, ``pickle.UnpicklingError`` (a type outside the
    allow-list: nothing of it was run) or RuntimeError (an empty, truncated
    or damaged file), each naming ``filename``.
    """
    filename = osp.expanduser(os.fspath(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    if osp.getsize(filename) == 0:
        raise RuntimeError(f'checkpoint {filename} is empty (0 bytes)')
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
    except (RuntimeError, EOFError, OSError, ValueError, KeyError) as err:
        raise RuntimeError(
            f'cannot read checkpoint {filename} (truncated, damaged or not a '
            f'torch checkpoint): {type(err).__name__}: {err}') from err


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
    problems = []
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
    so that ``load_from``, ``--resume``, ``init_cfg=Pretrained`` and
    ``mmengine.runner.load_checkpoint`` read weights-only (mmengine 0.10.7
    calls ``torch.load`` without ``weights_only``: torch >= 2.6 then refuses
    the message hub of its own checkpoints, an older torch would fully
    unpickle any file). Called at ``import mmmtl``; torch's own default is
    not changed."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_checkpoint_file, force=True)
