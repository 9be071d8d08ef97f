"""torchbasics: the foundational deep-learning models in PyTorch, done properly."""

__version__ = "0.1.0"
