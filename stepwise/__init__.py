"""Stepwise: the SageMaker fraud-detection pipeline as a Step Functions state machine, on AWS or a laptop."""

__version__ = "0.1.0"
