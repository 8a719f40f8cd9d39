"""The interface every few-shot classifier shares: training by ``loss`` and
the meta-test protocol ``adapt(support) -> task state``,
``predict(task state, query) -> scores``."""
import logging
import math
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmmtl.registry import MODELS


class BaseFewShotClassifier(BaseModel, metaclass=ABCMeta):
    """A backbone plus the few-shot protocol.

    Batches come from :class:`FewShotDataPreprocessor`: ``inputs`` are
    images ([B, C, H, W] plain, or [T, M, C, H, W] for T episodes with the
    support images first), ``data_samples`` a dict of labels (``gt_label``:
    global class labels; ``episode_label`` and the episode shape for
    episodes).

    Training watches the loss (:meth:`parse_losses`): a non-finite loss
    stops training at once; a loss that grows a thousandfold is logged as a
    warning.
    """

    #: a finite loss above this factor of the first one (at least 1), or
    #: above DIVERGENCE_LIMIT, is reported (once) as diverging
    DIVERGENCE_FACTOR = 1000.0
    DIVERGENCE_LIMIT = 1e6

    def __init__(self,
                 backbone: Union[dict, nn.Module],
                 data_preprocessor: Optional[Union[dict, Any]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='FewShotDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        # a module: a backbone shared with another classifier (the branches
        # of MTL train one embedding)
        self.backbone = (
            backbone
            if isinstance(backbone, nn.Module) else MODELS.build(backbone))
        self._first_loss: Optional[float] = None
        self._divergence_reported = False

    def parse_losses(self, losses: Dict[str, Tensor]
                     ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """mmengine's sum of the loss terms, checked before the optimizer
        sees it: a non-finite loss raises a FloatingPointError naming the
        iteration and every logged term (the model is not updated, so no
        checkpoint is written from it); a finite loss over
        ``DIVERGENCE_FACTOR`` times the first one or over
        ``DIVERGENCE_LIMIT`` is logged once as a warning."""
        loss, log_vars = super().parse_losses(losses)
        value = float(loss.detach())
        if not math.isfinite(value):
            terms = ', '.join(f'{name}={float(term):.4g}'
                              for name, term in log_vars.items())
            raise FloatingPointError(
                f'{type(self).__name__}: non-finite loss '
                f'{self._at_iteration()} ({terms}); training stopped '
                'before this update, no checkpoint was written from it. '
                'Lower the learning rate(s) or check the data.')
        if self._first_loss is None:
            self._first_loss = value
        limit = min(self.DIVERGENCE_LIMIT,
                    self.DIVERGENCE_FACTOR * max(abs(self._first_loss), 1.0))
        if abs(value) > limit and not self._divergence_reported:
            self._divergence_reported = True
            print_log(
                f'{type(self).__name__}: the loss is diverging: {value:.4g} '
                f'{self._at_iteration()} (first loss {self._first_loss:.4g}'
                '); consider lower learning rates',
                logger='current',
                level=logging.WARNING)
        return loss, log_vars

    @staticmethod
    def _at_iteration() -> str:
        """'at iteration N' (1-based, as logged) while a Runner trains."""
        step = MessageHub.get_current_instance().get_info('iter')
        return 'in this step' if step is None else f'at iteration {step + 1}'

    def extract_feat(self, inputs: Tensor) -> Tensor:
        return self.backbone(inputs)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[dict] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.meta_test(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise ValueError(f'{type(self).__name__}: invalid mode {mode!r}; '
                         "use 'loss', 'predict' or 'tensor'")

    @abstractmethod
    def loss(self, inputs: Tensor, data_samples: dict) -> Dict[str, Tensor]:
        """Training losses for one (meta-)batch."""

    @abstractmethod
    def adapt(self, support: Tensor, labels: Tensor,
              num_ways: int) -> Dict[str, Tensor]:
        """Learn a task from its support images and episode labels.

        Returns the task state as a flat dict of tensors (fast weights,
        prototypes, ...), never modules, so that an adapted task can be
        saved and reloaded with weights-only loading.
        """

    @abstractmethod
    def predict(self, task_state: Dict[str, Tensor], query: Tensor) -> Tensor:
        """Class scores [Q, num_ways] of query images for an adapted task."""

    def meta_test(self, inputs: Tensor, data_samples: dict) -> List[dict]:
        """Adapt and predict on each episode; one result dict per episode."""
        if inputs.dim() != 5 or 'episode_label' not in data_samples:
            raise ValueError(
                f'{type(self).__name__}: meta-testing needs episodic '
                'batches (wrap the dataset in EpisodicDataset)')
        ways = data_samples['num_ways']
        shots = data_samples['num_shots']
        num_support = ways * shots
        if inputs.shape[1] <= num_support:
            raise ValueError(
                f'{type(self).__name__}: meta-test episodes have no query '
                f'images ({ways}-way {shots}-shot, {inputs.shape[1]} images '
                'per episode); set num_queries >= 1')
        results = []
        for images, labels in zip(inputs, data_samples['episode_label']):
            state = self.adapt(images[:num_support], labels[:num_support],
                               ways)
            scores = self.predict(state, images[num_support:])
            if not torch.isfinite(scores).all():
                raise FloatingPointError(
                    f'{type(self).__name__}: non-finite class scores in a '
                    f'{ways}-way {shots}-shot meta-test episode: the weights '
                    'or the adaptation diverged (a NaN score would count as '
                    'class 0)')
            correct = scores.argmax(-1) == labels[num_support:]
            results.append(
                dict(
                    accuracy=correct.float().mean().item() * 100,
                    num_ways=ways,
                    num_shots=shots))
        return results
