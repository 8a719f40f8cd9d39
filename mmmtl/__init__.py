"""mmmtl: few-shot image classification by meta-transfer learning."""
from . import compat

compat.apply_all()  # before torchvision is imported

from .utils.atomic_write import register_atomic_backend  # noqa: E402
from .utils.checkpoint import register_checkpoint_loader  # noqa: E402
from .version import __version__  # noqa: E402

register_checkpoint_loader()
register_atomic_backend()

__all__ = ['__version__']
