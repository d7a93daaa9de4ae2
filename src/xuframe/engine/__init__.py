"""The training engine shared by every trainable component: Trainer, checkpoints, seeding, plots.

See the "Training" page of the docs for single-process, resumed and ``torchrun`` runs.
"""

from xuframe._pretrained import save_pretrained
from xuframe.engine._checkpoint import load_checkpoint, save_checkpoint
from xuframe.engine._config import TrainerConfig
from xuframe.engine._metrics_log import read_metrics
from xuframe.engine._plot import plot_metrics
from xuframe.engine._run import RunFile, evaluate_run, load_run, train_run
from xuframe.engine._seed import seed_everything, seed_worker
from xuframe.engine._trainer import Evaluator, FitResult, Trainable, Trainer, mean_losses

__all__ = [
    "Trainer",
    "TrainerConfig",
    "FitResult",
    "Trainable",
    "Evaluator",
    "mean_losses",
    "save_checkpoint",
    "load_checkpoint",
    "save_pretrained",
    "seed_everything",
    "seed_worker",
    "read_metrics",
    "plot_metrics",
    "RunFile",
    "load_run",
    "train_run",
    "evaluate_run",
]
