"""The interface every few-shot classifier shares: training by ``loss`` and
the meta-test protocol ``adapt(support) -> task state``,
``predict_query(task state, query) -> scores``, which
``forward(mode='predict')`` runs on each episode of a batch, both carried
out by the classifier's adapter (``mmmtl.models.adapters``)."""
import logging
import math
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmmtl.registry import MODELS
from ..adapters import BaseAdapter
from .episode_split import EpisodeSplit


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

    Meta-test protocol: :meth:`adapt` learns a task from its support set
    and returns the task state (a flat dict of tensors);
    :meth:`predict_query` scores query images with it. Both are the
    adapter's (``self.adapter``, a registered component such as
    ``Finetune``, ``Centroid`` or ``LinearProbe``): the classifier owns the
    embedding and its training objective, the adapter how a new task is
    learned, and :meth:`set_adapter` swaps it (any checkpoint with any
    adapter).
    ``forward(mode='predict')`` (mmengine's test and validation loops) runs
    both on each episode of a batch and returns the predictions, which
    :class:`FewShotAccuracy` scores against the episode labels.

    Example:
        >>> import torch
        >>> from mmmtl.models import ProtoNet
        >>> model = ProtoNet(backbone=torch.nn.Flatten())  # pixels = features
        >>> model.adapter  # ProtoNet's own: squared Euclidean centroids
        Centroid()
        >>> support = torch.tensor([0., 1., 9., 10.]).view(4, 1, 1, 1)
        >>> state = model.adapt(support, torch.tensor([0, 0, 1, 1]),
        ...                     num_ways=2)
        >>> state['prototypes']
        tensor([[0.5000],
                [9.5000]])
        >>> query = torch.tensor([2., 8.]).view(2, 1, 1, 1)
        >>> model.predict_query(state, query)  # minus squared distances
        tensor([[ -2.2500, -56.2500],
                [-56.2500,  -2.2500]])
        >>> episode = torch.cat([support, query]).unsqueeze(0)  # T = 1
        >>> (prediction, ) = model(
        ...     episode,
        ...     dict(episode_label=torch.tensor([[0, 0, 1, 1, 0, 1]]),
        ...          num_ways=2, num_shots=2),
        ...     mode='predict')
        >>> prediction['pred_label'], prediction['gt_label']
        (tensor([0, 1]), tensor([0, 1]))
    """

    #: a finite loss above this factor of the first one (at least 1), or
    #: above DIVERGENCE_LIMIT, is reported (once) as diverging
    DIVERGENCE_FACTOR = 1000.0
    DIVERGENCE_LIMIT = 1e6
    #: what :meth:`check_ways` calls the fixed-size head in its errors
    ways_head_name = 'head'
    #: whether the class has ``loss_and_features(inputs, data_samples) ->
    #: (losses, features [B, D], global labels [B])``: the features its loss
    #: embedded at the shared weights (a meta branch of MTL with shared
    #: features)
    gives_features = False
    #: whether the class has ``loss_on_features(features, labels) ->
    #: losses`` (a transfer branch of MTL with shared features)
    takes_features = False

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

    def build_adapter(self, adapter: dict) -> None:
        """Build ``self.adapter`` from its config (subclasses call this once
        their head exists: a ``Finetune`` adapter may read it)."""
        self.adapter = MODELS.build(adapter)
        if not isinstance(self.adapter, BaseAdapter):
            raise TypeError(f'{type(self).__name__}: adapter must build a '
                            f'BaseAdapter, got {type(self.adapter).__name__}'
                            f' from {adapter}')
        self.adapter.setup(self)

    def set_adapter(self, adapter: dict) -> None:
        """Meta-test with another adapter (after loading a checkpoint). A
        new adapter with learned parameters (e.g. ``Finetune`` with
        ``learn_lr``) takes them from the current one, and must match it."""
        old = self.adapter
        self.build_adapter(adapter)
        self.adapter.to(self.data_preprocessor.device)
        learned = self.adapter.state_dict()
        if learned:
            try:
                self.adapter.load_state_dict(old.state_dict())
            except RuntimeError as error:
                raise ValueError(
                    f'{type(self).__name__}: the adapter {adapter} has '
                    'learned parameters that the checkpoint\'s adapter '
                    f'({old.describe()}) does not hold: {error}') from None

    def n_way_head(self) -> Optional[nn.Module]:
        """The classifier's N-way head that a ``Finetune`` adapter starts
        from (``head_init='meta'``), or None (the default)."""
        return None

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
        """mmengine's entry point: ``'loss'`` (training), ``'predict'`` (the
        meta-test of a batch of episodes, :meth:`meta_test`) or
        ``'tensor'`` (backbone features)."""
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

    def adapt(self, support: Tensor, labels: Tensor,
              num_ways: int) -> Dict[str, Tensor]:
        """Learn a task from its support images and episode labels (the
        adapter's ``adapt``).

        Returns the task state as a flat dict of tensors (fast weights,
        prototypes, ...), never modules, so that an adapted task can be
        saved and reloaded with weights-only loading.
        """
        self.check_ways(num_ways)
        return self._own_adapter().adapt(self, support, labels, num_ways)

    def predict_query(self, task_state: Dict[str, Tensor],
                      query: Tensor) -> Tensor:
        """Class scores [Q, num_ways] of query images for an adapted task
        (the adapter's ``predict``)."""
        return self._own_adapter().predict(self, task_state, query)

    def fixed_num_ways(self,
                       adapter: Optional[BaseAdapter] = None) -> Optional[int]:
        """N of a head with a fixed number of rows that the adapter (or
        ``adapter``, one to meta-test with) starts from, or None when the
        model takes episodes of any N."""
        adapter = adapter or getattr(self, 'adapter', None)
        return None if adapter is None else adapter.fixed_num_ways(self)

    def _own_adapter(self) -> BaseAdapter:
        adapter = getattr(self, 'adapter', None)
        if adapter is None:  # a subclass that built none
            raise TypeError(
                f'{type(self).__name__} has no adapter: call '
                'self.build_adapter(cfg) in __init__, or override adapt() '
                'and predict_query()')
        return adapter

    def check_ways(self,
                   num_ways: int,
                   adapter: Optional[BaseAdapter] = None) -> None:
        """Refuse N-way episodes that the model's head cannot score (with
        its adapter, or with ``adapter``)."""
        fixed = self.fixed_num_ways(adapter)
        if fixed is not None and num_ways != fixed:
            raise ValueError(
                f'{type(self).__name__} has a {fixed}-way '
                f'{self.ways_head_name}; got {num_ways}-way episodes')

    def split_episodes(self, inputs: Tensor,
                       data_samples: dict) -> EpisodeSplit:
        """Support and query sets of an episodic batch, their N checked."""
        episodes = EpisodeSplit.from_batch(inputs, data_samples,
                                           type(self).__name__)
        self.check_ways(episodes.num_ways)
        return episodes

    def meta_test(self, inputs: Tensor, data_samples: dict) -> List[dict]:
        """Adapt to each episode of a batch and predict its queries.

        Returns one dict per episode: ``pred_score`` [Q, N],
        ``pred_label`` [Q], ``gt_label`` (the queries' episode labels [Q]),
        ``num_ways`` and ``num_shots``. Episodes without queries and
        non-finite scores raise.
        """
        episodes = self.split_episodes(inputs, data_samples)
        ways, shots = episodes.num_ways, episodes.num_shots
        if episodes.query_x.shape[1] == 0:
            raise ValueError(
                f'{type(self).__name__}: meta-test episodes have no query '
                f'images ({ways}-way {shots}-shot, {inputs.shape[1]} images '
                'per episode); set num_queries >= 1')
        predictions = []
        for support_x, support_y, query_x, query_y in zip(*episodes[:4]):
            scores = self.predict_query(
                self.adapt(support_x, support_y, ways), query_x)
            if not torch.isfinite(scores).all():
                raise FloatingPointError(
                    f'{type(self).__name__}: non-finite class scores in a '
                    f'{ways}-way {shots}-shot meta-test episode: the weights '
                    'or the adaptation diverged (a NaN score would count as '
                    'class 0)')
            predictions.append(
                dict(
                    pred_score=scores,
                    pred_label=scores.argmax(-1),
                    gt_label=query_y,
                    num_ways=ways,
                    num_shots=shots))
        return predictions
