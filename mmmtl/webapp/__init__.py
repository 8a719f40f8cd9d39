"""The web app of ``tools/webapp.py``: your own classes, from a few images
each, on a trained few-shot model. The page needs ``pip install -e
".[app]"`` (Gradio); :class:`Workbench` and :class:`UploadStore` do not."""
from .uploads import UploadStore
from .workbench import Workbench, confusion_picture, load_saved_task

__all__ = ['UploadStore', 'Workbench', 'confusion_picture', 'load_saved_task']
