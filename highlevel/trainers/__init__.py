"""The training loop (fit/evaluate/predict) shared by every model and backend."""

from highlevel.trainers.trainer import Trainer

__all__ = ["Trainer"]
