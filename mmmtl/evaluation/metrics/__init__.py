from .few_shot_accuracy import FewShotAccuracy, accuracy, accuracy_summary

__all__ = ['FewShotAccuracy', 'accuracy', 'accuracy_summary']
