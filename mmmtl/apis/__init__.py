from .custom_task import (CustomTask, ImagePreparer, encode_image,
                          init_model, read_support_folder, find_test_dataset_cfg)

__all__ = [
    'CustomTask', 'ImagePreparer', 'encode_image', 'init_model',
    'read_support_folder', 'find_test_dataset_cfg'
]
