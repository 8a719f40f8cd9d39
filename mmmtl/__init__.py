"""mmmtl: few-shot image classification by meta-transfer learning."""
from . import compat

compat.apply_all()

from .version import __version__  # noqa: E402

__all__ = ['__version__']
