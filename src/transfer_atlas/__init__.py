"""transfer-atlas: map how fine-tuning on one task changes a model on every other task."""

__version__ = "0.1.0"
