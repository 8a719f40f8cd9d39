"""Transfer-learning baselines: Baseline and Baseline++ (Chen et al., "A
Closer Look at Few-shot Classification", ICLR 2019), and the "Transfer
Learning" column of Eshratifar et al."""
from typing import Dict

import torch.nn.functional as F
from torch import Tensor

from mmmtl.evaluation.metrics import accuracy
from mmmtl.registry import MODELS
from ..adapters.legacy import refuse_legacy_keys
from .base import BaseFewShotClassifier


@MODELS.register_module()
class TransferClassifier(BaseFewShotClassifier):
    """Supervised training on all base classes; at meta-test the adapter
    learns the new task on the frozen embedding (by default Chen et al.'s
    test head: a new cosine head started from the support class means and
    fine-tuned by SGD on the support features).

    Batch norm: running statistics (the backbone is in eval mode at test
    time); configure the backbone with ``track_running_stats=True``.

    Args:
        backbone: backbone config.
        head: the C-way training head (``LinearHead``: Baseline;
            ``CosineHead``: Baseline++).
        adapter: the meta-test adapter config (default: ``Finetune`` of a
            new ``CosineHead`` from the prototypes, 100 steps at lr 0.5 on
            the frozen features).
    """

    takes_features = True

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 adapter: dict = dict(
                     type='Finetune',
                     adapt='head.',
                     head=dict(type='CosineHead', scale=10.0),
                     head_init='prototypes',
                     num_steps=100,
                     lr=0.5),
                 data_preprocessor=None,
                 init_cfg=None,
                 **legacy) -> None:
        refuse_legacy_keys('TransferClassifier', legacy)
        super().__init__(backbone, data_preprocessor, init_cfg)
        self.head = MODELS.build(head)
        self.build_adapter(adapter)

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
            accuracy=accuracy(logits.detach(), labels))
