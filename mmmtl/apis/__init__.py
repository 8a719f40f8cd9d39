from .custom_task import (CustomTask, ImagePreparer, encode_image,
                          init_model, read_support_folder, find_test_dataset_cfg)
from .model_zoo import DEFAULT_MODEL, get_model, list_models, model_info

__all__ = [
    'CustomTask', 'ImagePreparer', 'encode_image', 'init_model',
    'read_support_folder', 'find_test_dataset_cfg', 'DEFAULT_MODEL',
    'get_model', 'list_models', 'model_info'
]
