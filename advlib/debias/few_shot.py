"""The few-shot task of chapter 7: a teacher's knowledge passed on as adversarial pseudo-samples.

The talk (seed S0) shows a table in which adversarial pseudo-samples raise 4-way 4-shot
accuracy but gives no protocol; the book's is this one. The student may see 4 labelled images
per class. A teacher trained elsewhere (other images of the same classes) passes on what it
knows only as pseudo-samples: images of *other* classes pushed towards each class by a
targeted attack through the teacher, labelled with that class. This module holds the
plumbing: relabelling a class subset, drawing the shots, training a student; the chapter
crafts the pseudo-samples and assembles the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from advlib.data.dataset import ImageDataset
from advlib.evaluate import predict
from advlib.models import SmallCNN
from advlib.train import TrainConfig, train
from advlib.utils import seed_everything

# The student sees at least this many parameter updates (batches of STUDENT_BATCH), however few
# its images, and at least STUDENT_MIN_EPOCHS epochs.
STUDENT_UPDATES, STUDENT_BATCH, STUDENT_MIN_EPOCHS = 60, 16, 3


def class_subset(dataset: ImageDataset, positions: torch.Tensor, classes: Sequence[int],
                 name: str | None = None) -> ImageDataset:
    """The images of ``dataset`` at ``positions``, labelled by the index of their class in
    ``classes`` (digits 2, 4, 6, 8 become classes 0-3). Every image must belong to one of them."""
    wanted = torch.as_tensor(list(classes))
    members = dataset.labels[positions, None] == wanted[None]
    if not members.any(1).all():
        raise ValueError(f"some positions hold images outside the classes {list(classes)}")
    labels = members.long().argmax(1)
    name = name or f"{dataset.name}_{''.join(str(c) for c in classes)}"
    return ImageDataset(dataset.images[positions], labels, tuple(str(c) for c in classes), name, dataset.split,
                        dataset.scale)


def draw_shots(labels: torch.Tensor, shots: int, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """Positions of ``shots`` images per class 0..num_classes-1, drawn without replacement,
    class by class (so one generator seed gives one episode)."""
    counts = torch.bincount(labels, minlength=num_classes)
    if (counts[:num_classes] < shots).any():
        raise ValueError(f"need {shots} images of every class, have {counts[:num_classes].tolist()}")
    return torch.cat([torch.nonzero(labels == c).squeeze(1)[torch.randperm(int((labels == c).sum()),
                                                                            generator=generator)[:shots]]
                      for c in range(num_classes)])


def train_student(images: torch.Tensor, labels: torch.Tensor, test_images: torch.Tensor, test_labels: torch.Tensor,
                  class_names: Sequence[str], *, width: int, seed: int,
                  device: torch.device | str = "cpu") -> list[float]:
    """Train a fresh SmallCNN from ``seed`` on a handful of images; its accuracy on each test class.

    ``images`` are floats in [0, 1] (real shots and pseudo-samples alike), stored as 8-bit as
    every training set is. The student trains for at least ``STUDENT_UPDATES`` updates.
    """
    num_classes = len(class_names)
    seed_everything(seed)
    model = SmallCNN(num_classes=num_classes, width=width).to(device)
    data = ImageDataset((images * 255).round().to(torch.uint8), labels, tuple(class_names), "few", "train", "class")
    batches = -(-len(data) // STUDENT_BATCH)
    epochs = max(STUDENT_MIN_EPOCHS, -(-STUDENT_UPDATES // batches))
    train(model, data, TrainConfig(epochs=epochs, lr=1e-3, batch_size=STUDENT_BATCH, seed=seed), device=device,
          progress=False)
    predictions = predict(model, test_images)
    return [(predictions[test_labels == c] == c).float().mean().item() for c in range(num_classes)]
