"""The interface every few-shot classifier shares: training by ``loss`` and
the meta-test protocol ``adapt(support) -> task state``,
``predict(task state, query) -> scores``."""
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Union

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
    """

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
        results = []
        for images, labels in zip(inputs, data_samples['episode_label']):
            state = self.adapt(images[:num_support], labels[:num_support],
                               ways)
            scores = self.predict(state, images[num_support:])
            correct = scores.argmax(-1) == labels[num_support:]
            results.append(
                dict(
                    accuracy=correct.float().mean().item() * 100,
                    num_ways=ways,
                    num_shots=shots))
        return results
