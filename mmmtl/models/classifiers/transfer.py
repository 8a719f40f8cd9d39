"""Transfer-learning baselines: Baseline and Baseline++ (Chen et al., "A
Closer Look at Few-shot Classification", ICLR 2019), and the "Transfer
Learning" column of Eshratifar et al."""
import copy
from typing import Dict, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call

from mmmtl.registry import MODELS
from ..head_finetune import finetune_head
from ..heads.prototype import class_means
from ..inner_loop import Params
from .base import BaseFewShotClassifier


@MODELS.register_module()
class TransferClassifier(BaseFewShotClassifier):
    """Supervised training on all base classes; meta-test trains a new N-way
    head on the support features of the frozen backbone.

    Batch norm: running statistics (the backbone is in eval mode at test
    time); configure the backbone with ``track_running_stats=True``.

    Args:
        backbone: backbone config.
        head: the C-way training head (``LinearHead``: Baseline;
            ``CosineHead``: Baseline++).
        finetune_cfg: the test-time head: ``head`` (config without
            ``in_channels`` / ``num_classes``), ``num_steps``, ``lr`` (SGD
            by :func:`finetune_head`), ``init``: ``'prototypes'`` (start
            from the class means: the nearest-centroid classifier) or
            ``'module'`` (the head's own initialisation).
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 finetune_cfg: dict = dict(
                     head=dict(type='CosineHead', scale=10.0),
                     num_steps=100,
                     lr=0.5,
                     init='prototypes'),
                 data_preprocessor=None,
                 init_cfg=None) -> None:
        super().__init__(backbone, data_preprocessor, init_cfg)
        self.head = MODELS.build(head)
        if finetune_cfg.get('init', 'prototypes') not in ('prototypes',
                                                          'module'):
            raise ValueError(
                f"TransferClassifier: finetune_cfg.init must be 'prototypes'"
                f" or 'module', got {finetune_cfg['init']!r}")
        self.finetune_cfg = copy.deepcopy(finetune_cfg)
        self._test_heads: Dict[Tuple[int, int], nn.Module] = {}

    def loss(self, inputs: Tensor, data_samples: dict) -> Dict[str, Tensor]:
        if inputs.dim() == 5:  # episodes used as plain batches
            inputs = inputs.flatten(0, 1)
            data_samples = dict(gt_label=data_samples['gt_label'].flatten())
        return self.loss_on_features(
            self.extract_feat(inputs), data_samples['gt_label'])

    def loss_on_features(self, feats: Tensor,
                         labels: Tensor) -> Dict[str, Tensor]:
        """Cross-entropy and accuracy (%) of the C-way head on backbone
        features [B, D] with global labels [B] (MTL hands it the features
        its meta branch computed)."""
        logits = self.head(feats)
        return dict(
            loss=F.cross_entropy(logits, labels),
            accuracy=(logits.argmax(1) == labels).float().mean() * 100)

    def _test_head(self, in_channels: int, num_ways: int) -> nn.Module:
        """The test-time head module for a feature size and N (built once
        per shape, kept out of the state_dict; only its structure, buffers
        and initial values are used: adaptation is functional)."""
        key = (in_channels, num_ways)
        if key not in self._test_heads:
            self._test_heads[key] = MODELS.build(
                dict(
                    self.finetune_cfg['head'],
                    in_channels=in_channels,
                    num_classes=num_ways))
        return self._test_heads[key].to(self.data_preprocessor.device)

    def adapt(self, support: Tensor, labels: Tensor,
              num_ways: int) -> Params:
        cfg = self.finetune_cfg
        with torch.no_grad():
            feats = self.extract_feat(support)
        head = self._test_head(feats.shape[1], num_ways)
        params = {n: p.detach() for n, p in head.named_parameters()}
        if cfg.get('init', 'prototypes') == 'prototypes':
            params = head.prototype_params(
                class_means(feats, labels, num_ways))
        fast = finetune_head(head, params, feats, labels, cfg['num_steps'],
                             cfg['lr'])
        return {n: p.detach() for n, p in fast.items()}

    def predict_query(self, task_state: Params, query: Tensor) -> Tensor:
        with torch.no_grad():
            feats = self.extract_feat(query)
            num_ways = next(iter(task_state.values())).shape[0]
            head = self._test_head(feats.shape[1], num_ways)
            return functional_call(head, task_state, (feats, ))
