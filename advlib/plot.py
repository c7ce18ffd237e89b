"""Figures with one consistent style: image grids, amplified perturbations, curves.

Functions return the matplotlib Figure so notebooks can show it and tests can close it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure


def _to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) for grey or (H, W, C) for colour."""
    array = image.detach().float().cpu().clamp(0, 1).numpy()
    return array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0))


def show_images(
    images: torch.Tensor,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 8,
    size: float = 1.6,
    suptitle: str | None = None,
) -> Figure:
    """A grid of (N, C, H, W) images in [0, 1], with optional per-image titles."""
    count = images.shape[0]
    if titles is not None and len(titles) != count:
        raise ValueError(f"{count} images but {len(titles)} titles")
    ncols = max(1, min(ncols, count))
    nrows = -(-count // ncols)
    aspect = images.shape[-2] / images.shape[-1]  # wide images (CAPTCHAs) get short rows
    figure, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * aspect * nrows + (0.3 * nrows if titles and aspect < 1 else 0)
                               + (0.4 if suptitle else 0)),
        squeeze=False,
    )
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(_to_numpy_image(images[index]), cmap="gray", vmin=0, vmax=1)
            if titles is not None:
                axis.set_title(titles[index], fontsize=8)
    if suptitle:
        figure.suptitle(suptitle)
    figure.tight_layout()
    return figure


def perturbation_view(clean: torch.Tensor, adversarial: torch.Tensor, amplify: float = 10.0) -> torch.Tensor:
    """The perturbation as an image: ``0.5 + amplify * (adv - clean)``, clipped to [0, 1].

    Mid-grey is "no change". The seed talk shows the raw difference beside a 10x one: the
    raw difference is nearly invisible, which is the whole point of adversarial examples.
    """
    return (0.5 + amplify * (adversarial - clean)).clamp(0, 1)


def show_perturbations(
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    *,
    clean_titles: Sequence[str] | None = None,
    adversarial_titles: Sequence[str] | None = None,
    amplify: float = 10.0,
    size: float = 1.6,
) -> Figure:
    """Rows: clean images, the difference, the difference x ``amplify``, adversarial images."""
    count = clean.shape[0]
    rows = [
        ("clean", clean, clean_titles),
        ("difference", perturbation_view(clean, adversarial, 1.0), None),
        (f"{amplify:g}x difference", perturbation_view(clean, adversarial, amplify), None),
        ("adversarial", adversarial, adversarial_titles),
    ]
    figure, axes = plt.subplots(len(rows), count, figsize=(size * count + 1.2, size * len(rows)), squeeze=False)
    for row, (name, images, titles) in enumerate(rows):
        for column in range(count):
            axis = axes[row, column]
            axis.set_xticks([])
            axis.set_yticks([])
            axis.imshow(_to_numpy_image(images[column]), cmap="gray", vmin=0, vmax=1)
            if titles is not None:
                axis.set_title(titles[column], fontsize=8)
        axes[row, 0].set_ylabel(name, fontsize=9)
    figure.tight_layout()
    return figure


def plot_curves(
    x: Sequence[float] | torch.Tensor,
    curves: Mapping[str, Sequence[float] | torch.Tensor],
    *,
    xlabel: str,
    ylabel: str = "accuracy",
    title: str | None = None,
    size: tuple[float, float] = (5.0, 3.5),
) -> Figure:
    """Several named curves over the same x values (e.g. accuracy vs. budget per model)."""
    figure, axis = plt.subplots(figsize=size)
    xs = np.asarray(torch.as_tensor(x).cpu())
    for label, values in curves.items():
        ys = np.asarray(torch.as_tensor(values).cpu())
        if ys.shape != xs.shape:
            raise ValueError(f"curve {label!r} has {ys.shape[0]} points but x has {xs.shape[0]}")
        axis.plot(xs, ys, marker="o", markersize=3, label=label)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if ylabel == "accuracy":
        axis.set_ylim(-0.02, 1.02)
    if title:
        axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def display_jpeg(figure: Figure, *, quality: int = 85, dpi: int = 90) -> None:
    """Show a figure of photographs as a JPEG in the notebook, then close it.

    PNG is lossless, so a photo (or an amplified adversarial perturbation, which is noise)
    costs ~1 MB per figure in a committed notebook; a JPEG of it costs ~50-100 KB and looks
    the same on screen.
    """
    import io

    from IPython.display import Image, display

    buffer = io.BytesIO()
    figure.savefig(buffer, format="jpeg", dpi=dpi, pil_kwargs={"quality": quality}, bbox_inches="tight")
    plt.close(figure)
    display(Image(data=buffer.getvalue(), format="jpeg"))
