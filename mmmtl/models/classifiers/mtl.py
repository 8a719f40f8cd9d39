"""MTL: joint transfer and meta-learning (Eshratifar, Abrishami, Eigen,
Pedram, "A Meta-Learning Approach for Custom Model Training", AAAI 2019).

Not Sun et al.'s "Meta-Transfer Learning" (frozen pretrained backbone with
meta-learned scaling and shifting): that is :class:`MTLScaleShift`.
"""
from typing import Dict, Optional, Tuple

from torch import Tensor

from mmmtl.registry import MODELS
from .base import BaseFewShotClassifier

BRANCHES = ('meta_branch', 'transfer_branch')


def _over(own: Optional[dict], given: Optional[dict]) -> Optional[dict]:
    """``given`` replaces ``own`` where it names a ``type`` (or says
    ``_delete_=True``, the config idiom, which mmengine leaves in place where
    the base had no such key); without one it changes only the keys it
    gives."""
    if given is None:
        return own
    given = dict(given)
    if given.pop('_delete_', False) or own is None or 'type' in given:
        return given
    return dict(own, **given)


def mtl_branches(meta_branch: dict,
                 transfer_branch: dict,
                 backbone: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None
                 ) -> Tuple[dict, Optional[dict], Tuple[dict, dict]]:
    """What :class:`MTL` is built from: the shared backbone and data
    preprocessor and the two branch configs without them (see MTL's
    docstring for the rules)."""
    meta_branch = dict(meta_branch)
    backbone = _over(meta_branch.pop('backbone', None), backbone)
    data_preprocessor = _over(meta_branch.pop('data_preprocessor', None),
                              data_preprocessor)
    if 'backbone' in transfer_branch:
        raise ValueError('MTL: transfer_branch must not have its own '
                         'backbone (the branches share model.backbone)')
    transfer_branch = dict(dict(type='TransferClassifier'), **transfer_branch)
    if 'head' in transfer_branch:
        transfer_branch['head'] = _over(meta_branch.get('head'),
                                        transfer_branch['head'])
    for key, cfg in (('backbone', backbone),
                     ('data_preprocessor', data_preprocessor),
                     ('transfer_branch.head', transfer_branch.get('head'))):
        if cfg is not None and 'type' not in cfg:
            raise ValueError(
                f'MTL: model.{key} has no type and the meta branch '
                f"({meta_branch.get('type')}) has none to take it from; "
                'give it in full')
    if backbone is None:
        raise ValueError('MTL: no backbone: give model.backbone or '
                         'model.meta_branch.backbone')
    return backbone, data_preprocessor, (meta_branch, transfer_branch)


@MODELS.register_module()
class MTL(BaseFewShotClassifier):
    """One embedding trained by two branches at once: a meta-learner on
    N-way episodes and a transfer learner on the global base-class labels of
    the same images. The model moves by the weighted average of the two
    branches' updates, ``(1 - beta) * meta + beta * transfer``.

    A branch is any registered classifier whose ``loss`` has the branch's
    update as its gradient: MAML (its meta-gradient; first order with
    ``first_order=True``), Reptile (``shared - adapted``, written as a
    gradient), ProtoNet, or a user's own. Both are built on this model's
    backbone (one set of weights), so one backward pass of
    ``(1 - beta) * meta_loss + beta * transfer_loss`` hands the optimizer
    exactly the weighted average. ``beta = 0`` is the meta branch alone,
    ``beta = 1`` the transfer branch alone (the other branch is then not
    evaluated). The authors' code effectively used beta = 0.1.

    New tasks are learned as the meta branch learns them, by its adapter
    (MAML / Reptile: ``Finetune``, the inner loop; ProtoNet: ``Centroid``);
    ``adapter``, :meth:`set_adapter` and the protocol are the meta
    branch's.
    Batch norm follows the meta branch's policy (see its docstring); the
    transfer branch normalises with the same layers.

    Shared features (``share_features=True``, the default): the transfer
    branch trains on the backbone features the meta branch already computed
    at the shared weights, so it costs one C-way head instead of a second
    backbone pass (benchmarks/maml_speed.py: an MTL-MAML iteration at
    1.0-1.1x a MAML one). These are the images each task's first inner
    step embeds, normalised with the task's own batch statistics: MAML's
    support set, all of a Reptile training episode, all of a ProtoNet
    episode. As in the authors' code, whose transfer step runs task by task
    on the task's training images. The maths does not allow reuse of the
    query images under MAML (they are embedded at each task's fast weights,
    not the shared ones). ``share_features=False``: the transfer branch
    embeds every image of the meta-batch itself, in one batch (batch
    statistics over the whole meta-batch): the behaviour of mmmtl before
    shared features, with which the Omniglot results in docs/mtl.md were
    measured. The meta branch provides the features through
    ``loss_and_features(inputs, data_samples) -> (losses, features,
    global labels)`` (MAML, Reptile, ProtoNet) and the transfer branch
    takes them through ``loss_on_features(features, labels)`` (the
    classifiers' ``gives_features`` / ``takes_features``).

    Checkpoints hold the shared backbone once, under ``backbone.`` as in the
    other classifiers.

    Config: ``meta_branch`` may be a whole meta-learner config, its
    ``backbone`` and ``data_preprocessor`` included: they become the shared
    ones (so an MTL config is the MAML / Reptile config as it is, its model
    wrapped, plus a transfer branch). ``model.backbone`` /
    ``model.data_preprocessor`` then replace them where they name a
    ``type`` (or say ``_delete_=True``) and change the keys they give
    otherwise (``model.backbone.channels=...`` on the command line works as
    for any classifier). The transfer branch's ``type`` defaults to
    ``TransferClassifier``, and its ``head`` follows the same rule over the
    meta branch's head: ``transfer_branch=dict(head=dict(num_classes=64))``
    is the meta head with 64 classes (C = the number of base classes).

    Args:
        meta_branch: config of the meta-learner, e.g.
            ``dict(type='MAML', head=..., num_ways=5, adapter=dict(
            type='Finetune', lr=0.4))``, with
            or without ``backbone`` / ``data_preprocessor`` (see above).
        transfer_branch: config of the transfer learner without
            ``backbone``, e.g. ``dict(head=dict(num_classes=4112))`` or
            ``dict(type='TransferClassifier', head=dict(type='LinearHead',
            in_channels=256, num_classes=4112))``.
        beta: weight of the transfer update, in [0, 1].
        share_features: train the transfer branch on the meta branch's
            features at the shared weights (see above).
        backbone: the shared backbone's config, or changes to the meta
            branch's (see above).
        data_preprocessor: likewise.

    Example:
        >>> from mmmtl.registry import MODELS
        >>> maml = dict(type='MAML', num_ways=5,
        ...             adapter=dict(type='Finetune', num_steps=1, lr=0.4),
        ...             backbone=dict(type='Conv4', in_channels=1,
        ...                           track_running_stats=False),
        ...             head=dict(type='LinearHead', in_channels=64,
        ...                       num_classes=5))
        >>> mtl = MODELS.build(dict(type='MTL', meta_branch=maml,
        ...                         transfer_branch=dict(
        ...                             head=dict(num_classes=100))))
        >>> mtl.transfer_branch.head.fc.out_features
        100
        >>> mtl.meta_branch.backbone is mtl.backbone
        True
    """

    def __init__(self,
                 meta_branch: dict,
                 transfer_branch: dict,
                 beta: float = 0.1,
                 share_features: bool = True,
                 backbone: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f'MTL: beta must be in [0, 1], got {beta}')
        backbone, data_preprocessor, branches = mtl_branches(
            meta_branch, transfer_branch, backbone, data_preprocessor)
        super().__init__(backbone, data_preprocessor, init_cfg)
        for name, cfg in zip(BRANCHES, branches):
            setattr(self, name,
                    MODELS.build(dict(cfg, backbone=self.backbone)))
        self.beta = beta
        self.share_features = share_features
        if share_features:
            for name, flag in (('meta_branch', 'gives_features'),
                               ('transfer_branch', 'takes_features')):
                if not getattr(getattr(self, name), flag):
                    raise ValueError(
                        f'MTL: share_features=True needs a {name} with '
                        f'{flag} ({type(getattr(self, name)).__name__} has '
                        'not); implement it or set share_features=False')
        self.register_state_dict_post_hook(_drop_branch_backbones)
        self.register_load_state_dict_pre_hook(_fill_branch_backbones)

    def loss(self, inputs: Tensor, data_samples: dict) -> Dict[str, Tensor]:
        """The weighted sum of the branch losses (whose gradient is the
        weighted average of the updates); each branch's terms are logged
        with its prefix (``meta_``, ``transfer_``) and without "loss" in the
        name, which mmengine would add to the total."""
        weights = dict(meta=1.0 - self.beta, transfer=self.beta)
        branch_losses = {}
        if self.share_features and 0.0 < self.beta < 1.0:
            branch_losses['meta'], feats, labels = (
                self.meta_branch.loss_and_features(inputs, data_samples))
            branch_losses['transfer'] = self.transfer_branch.loss_on_features(
                feats, labels)
        else:
            for prefix, branch in (('meta', self.meta_branch),
                                   ('transfer', self.transfer_branch)):
                if weights[prefix] > 0.0:
                    branch_losses[prefix] = branch.loss(inputs, data_samples)
        total, logs = None, {}
        for prefix, losses in branch_losses.items():
            weight = weights[prefix]
            term = losses['loss'] if weight == 1.0 else weight * losses['loss']
            total = term if total is None else total + term
            logs[f'{prefix}_objective'] = losses['loss'].detach()
            for key, value in losses.items():
                if key != 'loss':
                    logs[f'{prefix}_{key}'] = value
        return dict(loss=total, **logs)

    @property
    def adapter(self):
        """The meta branch's adapter."""
        return self.meta_branch.adapter

    def set_adapter(self, adapter: dict) -> None:
        self.meta_branch.set_adapter(adapter)

    def adapt(self, support: Tensor, labels: Tensor,
              num_ways: int) -> Dict[str, Tensor]:
        return self.meta_branch.adapt(support, labels, num_ways)

    def predict_query(self, task_state: Dict[str, Tensor],
                      query: Tensor) -> Tensor:
        return self.meta_branch.predict_query(task_state, query)

    def fixed_num_ways(self, adapter=None) -> Optional[int]:
        return self.meta_branch.fixed_num_ways(adapter)


def _drop_branch_backbones(module: MTL, state_dict: dict, prefix: str,
                           local_metadata: dict) -> None:
    """State-dict post-hook: the branches' backbone entries repeat
    ``backbone.``; keep one copy."""
    repeated = tuple(f'{prefix}{b}.backbone.' for b in BRANCHES)
    for key in [k for k in state_dict if k.startswith(repeated)]:
        del state_dict[key]


def _fill_branch_backbones(module: MTL, state_dict: dict, prefix: str,
                           *args) -> None:
    """Load-state-dict pre-hook: give the branches' backbone entries the
    values of ``backbone.`` (the same tensors)."""
    shared = f'{prefix}backbone.'
    for key in [k for k in state_dict if k.startswith(shared)]:
        for branch in BRANCHES:
            state_dict.setdefault(
                f'{prefix}{branch}.backbone.{key[len(shared):]}',
                state_dict[key])
