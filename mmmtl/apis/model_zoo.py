"""The model index as an API: :func:`list_models` names the models of
``model-index.yml`` (``configs/<method>/metafile.yml``) and
:func:`get_model` builds one with its exported weights.

A metafile entry with weights carries (next to its Name and Config)::

    Weights: checkpoints/<name>.pth      # repository-relative state_dict
    Weights SHA256: <64 hex digits>      # checked before loading

as printed by ``tools/misc/export_model.py``, which strips a training
checkpoint to the model's state_dict. The weights are read weights-only
(:func:`mmmtl.utils.load_checkpoint_file`).

The default model (what the web app and ``get_model()`` use when no name
is given) is set here, in :data:`DEFAULT_MODEL`, :data:`DEFAULT_CONFIG`
and :data:`DEFAULT_WEIGHTS`.
"""
import fnmatch
import glob
import hashlib
import os.path as osp
import shlex
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
import yaml
from mmengine.config import Config

from .custom_task import init_model

# the default model: a Conv4 Baseline trained on real 32x32 miniImageNet
DEFAULT_MODEL = 'baseline_conv4_1xb128_mini-imagenet-32px_default'
DEFAULT_CONFIG = ('configs/transfer/'
                  'baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot.py')
DEFAULT_WEIGHTS = f'checkpoints/{DEFAULT_MODEL}.pth'


def repo_root() -> str:
    """Where model-index.yml is: the repository of this package, or the
    copy an installed package carries in ``mmmtl/.mim``."""
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    for root in (osp.dirname(package), osp.join(package, '.mim')):
        if osp.isfile(osp.join(root, 'model-index.yml')):
            return root
    raise FileNotFoundError(
        f'no model-index.yml beside {package} nor in {package}/.mim')


@dataclass
class ModelInfo:
    """One model of the index (paths relative to the index's root)."""
    name: str
    config: str
    metafile: str
    weights: Optional[str] = None
    sha256: Optional[str] = None
    command: Optional[str] = None


def _read_index(root: str) -> Dict[str, ModelInfo]:
    """The models of the metafiles (``configs/*/metafile.yml``, which
    model-index.yml is generated from; only they name weights)."""
    models: Dict[str, ModelInfo] = {}
    paths = sorted(glob.glob(osp.join(root, 'configs', '*', 'metafile.yml')))
    if not paths:
        raise FileNotFoundError(f'no configs/*/metafile.yml under {root}')
    for path in paths:
        metafile = osp.relpath(path, root)
        with open(path) as f:
            meta = yaml.safe_load(f) or {}
        for entry in meta.get('Models') or []:
            name = entry.get('Name')
            if not name or not entry.get('Config'):
                raise ValueError(f'{metafile}: a model entry without Name '
                                 f'or Config ({name!r})')
            if name in models:
                raise ValueError(f'{metafile}: model name {name} is also '
                                 f'in {models[name].metafile}')
            models[name] = ModelInfo(
                name=name,
                config=entry['Config'],
                metafile=metafile,
                weights=entry.get('Weights'),
                sha256=entry.get('Weights SHA256'),
                command=entry.get('Command'))
    return models


def list_models(pattern: Optional[str] = None,
                root: Optional[str] = None,
                with_weights: bool = False) -> List[str]:
    """Names of the models of the index, sorted.

    Args:
        pattern: keep names matching this shell pattern (``*conv4*``).
        root: the folder of model-index.yml (default: this repository).
        with_weights: only models whose metafile entry names weights.

    Example:
        >>> from mmmtl.apis import list_models
        >>> 'baseline_conv4_1xb128_omniglot_5way-1shot_8k-iters' in (
        ...     list_models('baseline_conv4*'))
        True
    """
    models = _read_index(root or repo_root())
    return sorted(
        name for name, info in models.items()
        if (pattern is None or fnmatch.fnmatch(name, pattern)) and (
            info.weights or not with_weights))


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def export_command(config: str, checkpoint: str, out: str,
                   name: str) -> str:
    """The command that writes a model's weights file from a training
    checkpoint."""
    return shlex.join([
        'python', 'tools/misc/export_model.py', config, checkpoint, out,
        '--name', name
    ])


def _absent_message(name: str, info: Optional[ModelInfo],
                    reason: str) -> str:
    config = info.config if info else DEFAULT_CONFIG
    out = (info.weights if info and info.weights else
           DEFAULT_WEIGHTS if name == DEFAULT_MODEL else
           f'checkpoints/{name}.pth')
    train = (info.command.strip() if info and info.command else
             f'python tools/train.py {config}')
    export = export_command(config, 'CHECKPOINT', out, name)
    return (f'model {name}: {reason}. Train it with\n  {train}\nthen '
            f'export its weights with\n  {export}\n(CHECKPOINT: the best '
            'checkpoint that training prints) and add the printed '
            f'Weights lines to its entry in '
            f'{info.metafile if info else "the metafile of its config"}')


def model_info(name: str, root: Optional[str] = None) -> ModelInfo:
    """The index entry of ``name``, its weights file present and intact
    (paths made absolute); errors say how to make the weights."""
    root = root or repo_root()
    models = _read_index(root)
    info = models.get(name)
    if info is None:
        if name == DEFAULT_MODEL:
            raise FileNotFoundError(_absent_message(
                name, None, 'the default model is not in the model index '
                'yet (no metafile entry)'))
        close = [n for n in sorted(models) if name.split('_')[0] in n][:5]
        raise KeyError(f'model {name!r} is not in {root}/model-index.yml'
                       f'{"; similar: " + ", ".join(close) if close else ""}'
                       '; list_models() names them all')
    if not info.weights:
        raise FileNotFoundError(_absent_message(
            name, info, f'{info.metafile} names no Weights for it (no '
            'weights are published for this model)'))
    weights = osp.join(root, info.weights)
    if not osp.isfile(weights):
        raise FileNotFoundError(_absent_message(
            name, info, f'its weights file {weights} is not present'))
    if not info.sha256:
        raise ValueError(f'{info.metafile}: model {name} names Weights '
                         f'{info.weights} without its Weights SHA256')
    found = file_sha256(weights)
    if found != str(info.sha256).lower():
        raise ValueError(
            f'{weights}: SHA-256 {found} differs from the {info.sha256} of '
            f'{info.metafile} (model {name}): the file is damaged or not '
            'the one exported for this entry')
    return ModelInfo(info.name, osp.join(root, info.config), info.metafile,
                     weights, info.sha256, info.command)


def get_model(name: Optional[str] = None,
              device: str = 'cpu',
              root: Optional[str] = None) -> torch.nn.Module:
    """The model ``name`` of the index (default :data:`DEFAULT_MODEL`) with
    its exported weights (SHA-256 checked, weights-only and strict), in
    eval mode on ``device``; its config is ``model.cfg``.

    A :class:`~mmmtl.apis.CustomTask` on it: ``CustomTask(model,
    model.cfg.to_dict()['model'], find_test_dataset_cfg(model.cfg))``.
    """
    info = model_info(name or DEFAULT_MODEL, root)
    model, cfg = init_model(Config.fromfile(info.config), info.weights,
                            device)
    model.cfg = cfg
    return model
