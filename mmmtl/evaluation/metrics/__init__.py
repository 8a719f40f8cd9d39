from .few_shot_accuracy import FewShotAccuracy, accuracy_summary

__all__ = ['FewShotAccuracy', 'accuracy_summary']
