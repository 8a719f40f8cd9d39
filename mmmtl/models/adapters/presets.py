"""Adapters by short name for the command line (``tools/test.py --adapter
NAME [--adapter-cfg KEY=VALUE ...]``, ``tools/adapt.py``, ``CustomTask``),
and a classifier config's own adapter."""
import argparse
import copy
import inspect
from typing import Optional

from mmengine.config import Config, DictAction

from mmmtl.registry import MODELS

#: name -> adapter config (``own``: the config's)
PRESETS = dict(
    own=None,
    # Baseline++'s cosine nearest-centroid classifier on any embedding
    centroid=dict(type='Centroid', metric='cosine', scale=10.0),
    # ProtoNet's squared-Euclidean centroids
    euclidean=dict(type='Centroid', metric='euclidean'),
    # logistic regression on the frozen embedding, to convergence
    linear=dict(type='LinearProbe'),
    # the whole network fine-tuned from a zero linear head: the 32x32
    # MAML recipe (10 first-order steps at lr 0.05 in class-balanced
    # mini-batches of at most 50, with backtracking) for any embedding
    finetune=dict(
        type='Finetune',
        head=dict(type='LinearHead'),
        head_init='zero',
        num_steps=10,
        lr=0.05,
        batch_size=50,
        line_search=True),
)


def own_adapter_cfg(model_cfg: dict) -> dict:
    """The adapter a model config meta-tests with (MTL: its meta
    branch's), its meta-test values (``test_cfg``) in place."""
    while model_cfg.get('type') == 'MTL':
        model_cfg = model_cfg['meta_branch']
    adapter = model_cfg.get('adapter')
    if adapter is None:  # the classifier's default
        cls = MODELS.get(model_cfg['type'])
        adapter = inspect.signature(cls).parameters['adapter'].default
    adapter = copy.deepcopy(dict(adapter))
    adapter.update(adapter.pop('test_cfg', None) or {})
    return adapter


def adapter_cfg(name: str,
                model_cfg: dict,
                options: Optional[dict] = None) -> Optional[dict]:
    """The adapter config named ``name`` (a key of :data:`PRESETS`) with
    ``options`` (``{'key.sub': value}``, as ``--adapter-cfg``) applied;
    None for the model's own adapter unchanged."""
    if name not in PRESETS:
        raise ValueError(f'--adapter {name!r}: unknown; choose one of '
                         f'{sorted(PRESETS)}')
    if name == 'own' and not options:
        return None
    base = own_adapter_cfg(model_cfg) if name == 'own' else PRESETS[name]
    cfg = Config(dict(adapter=copy.deepcopy(base)))
    if options:
        cfg.merge_from_dict({f'adapter.{k}': v for k, v in options.items()})
    return cfg.to_dict()['adapter']


def add_adapter_options(parser: argparse.ArgumentParser) -> None:
    """``--adapter NAME`` (a key of :data:`PRESETS`, checked) and
    ``--adapter-cfg KEY=VALUE ...``: the options of ``tools/test.py`` and
    ``tools/adapt.py``."""
    parser.add_argument(
        '--adapter',
        default='own',
        choices=sorted(PRESETS),
        help='how each task is learned: own (the config\'s adapter, the '
        'default), centroid (cosine class means), euclidean (squared-'
        'Euclidean class means), linear (logistic regression on the frozen '
        'embedding) or finetune (the whole network from a zero linear head); '
        'docs/adapters.md')
    parser.add_argument(
        '--adapter-cfg',
        nargs='+',
        action=DictAction,
        metavar='KEY=VALUE',
        help='change the adapter\'s settings, e.g. l2=0.1 or num_steps=20 '
        '(with --adapter own: its meta-test values)')
