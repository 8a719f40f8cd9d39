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
    """

    def __init__(self,
                 backbone: dict,
                 meta_branch: dict,
                 transfer_branch: dict,
                 beta: float = 0.1,
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
        self._register_state_dict_hook(_drop_branch_backbones)
        self.register_load_state_dict_pre_hook(_fill_branch_backbones)

    def loss(self, inputs: Tensor, data_samples: dict) -> Dict[str, Tensor]:
        """The weighted sum of the branch losses (whose gradient is the
        weighted average of the updates); each branch's terms are logged
        with its prefix (``meta_``, ``transfer_``) and without "loss" in the
        name, which mmengine would add to the total."""
        total, logs = None, {}
        for prefix, branch, weight in (('meta', self.meta_branch,
                                        1.0 - self.beta),
                                       ('transfer', self.transfer_branch,
                                        self.beta)):
            if weight == 0.0:
                continue
            losses = branch.loss(inputs, data_samples)
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

    def predict(self, task_state: Dict[str, Tensor], query: Tensor) -> Tensor:
        return self.meta_branch.predict(task_state, query)


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
