from .tensorboard_backend import FewShotTensorboardVisBackend

__all__ = ['FewShotTensorboardVisBackend']
