"""MTL: joint transfer and meta-learning (Eshratifar, Abrishami, Eigen,
Pedram, "A Meta-Learning Approach for Custom Model Training", AAAI 2019).

Not Sun et al.'s "Meta-Transfer Learning" (frozen pretrained backbone with
meta-learned scaling and shifting): that is :class:`MTLScaleShift`.
"""
from typing import Dict, Optional

from torch import Tensor

from mmmtl.registry import MODELS
from .base import BaseFewShotClassifier

BRANCHES = ('meta_branch', 'transfer_branch')


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

    New tasks are learned as the meta branch learns them (MAML / Reptile:
    SGD fine-tuning through the shared inner loop; ProtoNet: class means).
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
    takes them through ``loss_on_features(features, labels)``.

    Checkpoints hold the shared backbone once, under ``backbone.`` as in the
    other classifiers.

    Args:
        backbone: the shared backbone's config.
        meta_branch: config of the meta-learner without ``backbone``, e.g.
            ``dict(type='MAML', head=..., num_ways=5, inner_lr=0.4)``.
        transfer_branch: config of the transfer learner without
            ``backbone``, e.g. ``dict(type='TransferClassifier',
            head=dict(type='LinearHead', in_channels=256, num_classes=4112))``
            (C = the number of base classes).
        beta: weight of the transfer update, in [0, 1].
        share_features: train the transfer branch on the meta branch's
            features at the shared weights (see above).
    """

    def __init__(self,
                 backbone: dict,
                 meta_branch: dict,
                 transfer_branch: dict,
                 beta: float = 0.1,
                 share_features: bool = True,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f'MTL: beta must be in [0, 1], got {beta}')
        super().__init__(backbone, data_preprocessor, init_cfg)
        for name, cfg in zip(BRANCHES, (meta_branch, transfer_branch)):
            if 'backbone' in cfg:
                raise ValueError(
                    f'MTL: {name} must not have its own backbone (the '
                    'branches share model.backbone)')
            setattr(self, name,
                    MODELS.build(dict(cfg, backbone=self.backbone)))
        self.beta = beta
        self.share_features = share_features
        if share_features:
            for name, method in (('meta_branch', 'loss_and_features'),
                                 ('transfer_branch', 'loss_on_features')):
                if not hasattr(getattr(self, name), method):
                    raise ValueError(
                        f'MTL: share_features=True needs a {name} with '
                        f'{method}() ({type(getattr(self, name)).__name__} '
                        'has none); implement it or set '
                        'share_features=False')
        self._register_state_dict_hook(_drop_branch_backbones)
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

    def adapt(self, support: Tensor, labels: Tensor,
              num_ways: int) -> Dict[str, Tensor]:
        return self.meta_branch.adapt(support, labels, num_ways)

    def predict_query(self, task_state: Dict[str, Tensor],
                      query: Tensor) -> Tensor:
        return self.meta_branch.predict_query(task_state, query)


def _drop_branch_backbones(module: MTL, state_dict: dict, prefix: str,
                           local_metadata: dict) -> None:
    """State-dict hook: the branches' backbone entries repeat
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
