"""Learning curves for chapter 4: how fast a model fits its (possibly poisoned) training set,
and what that does to its error on clean test data.

A training-set attack shows in the two curves side by side: on poisoned data the training
error can fall as fast as on clean data (or faster: the shortcut is easy) while the clean
test error stays high. One function trains a fresh model from a fixed seed and records both,
so every model of the chapter's poisoning experiments is trained the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch
from torch import nn

from advlib.data.dataset import ImageDataset
from advlib.evaluate import accuracy
from advlib.train import TrainConfig, train
from advlib.utils import seed_everything


def fit_with_error_curve(
    build: Callable[[], nn.Module],
    dataset: ImageDataset,
    config: TrainConfig,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    seed: int,
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, pd.DataFrame]:
    """Seed the global generators with ``seed`` (the initial weights), build a fresh model and
    train it on ``dataset`` (data order and random starts follow ``config.seed``).

    Returns the trained model and a table indexed by epoch (1, 2, ...) with the running
    training error of each epoch (``1 -`` the accuracy over the epoch's batches, as the
    trainer measures it) and the error on the clean test images after the epoch.
    """
    if len(test_images) != len(test_labels) or len(test_labels) == 0:
        raise ValueError(f"need as many test labels as images, and at least one: {len(test_images)} images, "
                         f"{len(test_labels)} labels")
    seed_everything(seed)
    model = build()
    history = train(model, dataset, config, device=device, progress=False,
                    epoch_callback=lambda epoch, trained: {"test error": 1 - accuracy(trained, test_images,
                                                                                      test_labels)})
    curve = pd.DataFrame({"train error": [1 - record.train_accuracy for record in history],
                          "test error": [record.extra["test error"] for record in history]},
                         index=pd.RangeIndex(1, len(history) + 1, name="epoch"))
    return model, curve
