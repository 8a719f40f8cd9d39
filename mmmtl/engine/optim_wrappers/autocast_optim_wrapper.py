"""Meta-training in bfloat16 autocast where the hardware computes it
natively: an :class:`~mmengine.optim.OptimWrapper` whose ``optim_context``
(the block in which mmengine's ``train_step`` runs the data preprocessor and
the loss) enables ``torch.autocast``. The backward pass and the optimizer
step stay outside it, as autocast requires; the weights, their gradients and
the optimizer state stay float32. Validation and meta-testing do not run in
this context: they stay float32."""
from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import nn

from mmmtl.registry import OPTIM_WRAPPERS

PRECISIONS = ('auto', 'bfloat16', 'float32')


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 matrix products and convolutions
    natively (a CPU with AVX512-BF16 or AMX, through oneDNN; a CUDA GPU of
    compute capability 8.0 or more), i.e. faster than float32 rather than
    emulated."""
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == 'cpu':
        supported = getattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported',
                            None)
        # oneDNN also reports bfloat16 support on AVX512 cores without the
        # bfloat16 instructions, where it emulates them
        return bool(torch.backends.mkldnn.is_available() and supported
                    and supported()
                    and (torch.cpu._is_avx512_bf16_supported()
                         or torch.cpu._is_amx_tile_supported()))
    return False


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An optimizer wrapper that runs the training forward in bfloat16
    autocast.

    Under it the query evaluation of MAML / MTL-MAML, MTL's transfer
    branch and the batch steps of transfer learning and ProtoNet run their
    convolutions and matrix products in bfloat16 (float32 accumulation);
    the inner loop stays float32
    (:meth:`GradientMetaLearner.adapt_batch`), as do the weights, their
    gradients and the optimizer. Measured (docs/meta_learners.md, "Speed";
    docs/getting_started.md): the meta-gradient 0.2-17% (relative L2) from
    float64's, where another meta-batch's is 84-338% away; Omniglot and
    32x32 miniImageNet validation accuracy of MAML, the Baseline and
    ProtoNet unchanged within the 95% CIs (``benchmarks/bf16_accuracy.sh``;
    docs/speed.md).

    Args:
        precision: ``'auto'`` (default): bfloat16 where the model's device
            computes it natively (:func:`native_bf16`), else float32;
            ``'bfloat16'`` or ``'float32'`` forces one.
        **kwargs: :class:`~mmengine.optim.OptimWrapper` arguments
            (``optimizer``, ``accumulative_counts``, ``clip_grad``).

    In a config: ``optim_wrapper = dict(type='AutocastOptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3))``; mmengine's ``train_step`` then
    runs the forward inside :meth:`optim_context` (which logs its choice
    once).

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(4, 2)
        >>> wrapper = AutocastOptimWrapper(
        ...     optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        ...     precision='bfloat16')
        >>> wrapper.compute_dtype(torch.device('cpu'))  # optim_context's
        torch.bfloat16
        >>> AutocastOptimWrapper(
        ...     optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        ...     precision='float32').compute_dtype(torch.device('cpu'))
    """

    def __init__(self, precision: str = 'auto', **kwargs) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f'AutocastOptimWrapper: precision must be one '
                             f'of {PRECISIONS}, got {precision!r}')
        super().__init__(**kwargs)
        self.precision = precision
        self._dtype: Optional[torch.dtype] = None
        self._decided = False

    def compute_dtype(self, device: torch.device) -> Optional[torch.dtype]:
        """The autocast dtype on ``device``: bfloat16, or None (float32)."""
        if self.precision == 'float32':
            return None
        if self.precision == 'bfloat16' or native_bf16(device):
            return torch.bfloat16
        return None

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        device = next(model.parameters()).device
        if not self._decided:
            self._decided = True
            self._dtype = self.compute_dtype(device)
            print_log(
                f'AutocastOptimWrapper (precision={self.precision!r}): '
                'training forward in '
                + ('bfloat16 autocast' if self._dtype else 'float32')
                + f' on {device.type}', logger='current')
        with super().optim_context(model), torch.autocast(
                device.type, dtype=self._dtype or torch.bfloat16,
                enabled=self._dtype is not None):
            yield
