"""Fake data files in the real on-disk formats (torchvision's MNIST IDX files and CIFAR-10
pickles, CelebA's folder, ImageNet folders), for the tests of full-scale code paths on machines without
the real data, and the runner that executes a chapter's code cells at full scale on them."""

from __future__ import annotations

import json
import pickle
import struct
from collections.abc import Callable
from pathlib import Path

import nbformat
import numpy as np

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write an IDX file (the MNIST format): magic, dims, then raw uint8 data."""
    code = 0x08  # unsigned byte
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_idx_set(raw: Path, train: int = 20, test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Random MNIST-format files in ``raw`` (torchvision's ``MNIST/raw``); returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, (train,)),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, (test,)),
    }
    raw.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(raw / name, array)
    return arrays


def fake_cifar10(folder: Path, per_batch: int = 4, test: int = 4, seed: int = 0
                 ) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Random CIFAR-10 python pickles (five training batches, one test batch, the metadata) in
    ``folder`` (torchvision's ``cifar-10-batches-py``); returns each batch's data and labels.

    Their md5 sums cannot match torchvision's list: callers patch the integrity check.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for batch in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        count = test if batch == "test_batch" else per_batch
        data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, count).tolist()
        written[batch] = (data, labels)
        with open(folder / batch, "wb") as handle:
            pickle.dump({"data": data, "labels": labels}, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": CIFAR10_CLASSES}, handle)
    return written


CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open",
    "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)


def fake_celeba(folder: Path, splits: tuple[int, int, int] = (6, 3, 3), seed: int = 0) -> np.ndarray:
    """CelebA's on-disk layout in ``folder`` (torchvision's ``celeba``): random 178x218 JPEGs in
    ``img_align_celeba/`` and the five annotation files in their real formats (a count line and a
    header line where the real ones have them, attributes as -1/1). Returns the (N, 40) attributes
    as 0/1, in file order: the first ``splits[0]`` images are train, then valid, then test.

    Their md5 sums cannot match torchvision's list: callers patch the integrity check.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    count = sum(splits)
    names = [f"{index + 1:06d}.jpg" for index in range(count)]
    (folder / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    for name in names:
        pixels = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "img_align_celeba" / name, quality=90)
    attributes = rng.integers(0, 2, (count, len(CELEBA_ATTRIBUTES)))
    partition = np.repeat(np.arange(3), splits)

    def write(filename: str, header: list[str] | None, rows: list[str]) -> None:
        lines = ([str(count), " ".join(header) + " "] if header is not None else []) + rows
        (folder / filename).write_text("\n".join(lines) + "\n")

    write("list_eval_partition.txt", None, [f"{name} {part}" for name, part in zip(names, partition, strict=True)])
    write("identity_CelebA.txt", None, [f"{name} {1 + index % 4}" for index, name in enumerate(names)])
    write("list_bbox_celeba.txt", ["image_id", "x_1", "y_1", "width", "height"],
          [f"{name}    95  71 226 313" for name in names])
    write("list_landmarks_align_celeba.txt",
          ["lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y", "leftmouth_x", "leftmouth_y",
           "rightmouth_x", "rightmouth_y"], [f"{name} 69 109 106 113 77 142 73 152 108 154" for name in names])
    write("list_attr_celeba.txt", list(CELEBA_ATTRIBUTES),
          [name + "".join(f" {2 * value - 1:2d}" for value in row)
           for name, row in zip(names, attributes, strict=True)])
    return attributes


def fake_imagenet(folder: Path, train: dict[int, int], val: dict[int, int], seed: int = 0) -> None:
    """ILSVRC2012 in the prepared layout under ``folder`` (``train/<wnid>/*.JPEG``,
    ``val/<wnid>/*.JPEG``): random 320x300 JPEGs, ``train[c]`` and ``val[c]`` of class index c."""
    from PIL import Image

    from advlib.data.imagenet_folders import wnids

    rng = np.random.default_rng(seed)
    for split, counts in (("train", train), ("val", val)):
        for label, count in counts.items():
            wnid = wnids()[label]
            (folder / split / wnid).mkdir(parents=True, exist_ok=True)
            for index in range(count):
                pixels = rng.integers(0, 256, (300, 320, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / split / wnid / f"{wnid}_{index}.JPEG", quality=85)


def favour_class_zero_checkpoints(root: Path, names: tuple[str, ...]) -> None:
    """Random torchvision ImageNet classifiers saved under ``root/checkpoints`` in torchvision's
    file naming, each with a classifier that favours class 0: fake class-0 photos then count as
    read right (the chapters attack only those) and photos of other classes are filtered out."""
    import torch
    import torchvision.models as tv_models

    heads = {"vit_b_16": "heads.head"}
    (root / "checkpoints").mkdir(parents=True, exist_ok=True)
    for name in names:
        torch.manual_seed(0)
        extra = {"aux_logits": True, "init_weights": False} if name == "inception_v3" else {}
        network = tv_models.get_model(name, weights=None, **extra)
        layer = network.get_submodule(heads.get(name, "fc"))
        with torch.no_grad():
            layer.weight.mul_(0.01)
            layer.bias.zero_()
            layer.bias[0] = 30.0
        weights = tv_models.get_model_weights(name).DEFAULT
        torch.save(network.state_dict(), root / "checkpoints" / Path(weights.url).name)


def fake_robustbench_checkpoint(root: Path, name: str = "Wong2020Fast"):
    """A randomly initialised RobustBench CIFAR-10 L-inf network saved where the zoo keeps
    ``name``'s checkpoint under the data root ``root``; returns the network (eval mode)."""
    import torch

    from advlib.models.robustbench_zoo import checkpoint_path, import_robustbench

    import_robustbench()
    from robustbench.model_zoo import model_dicts
    from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel

    torch.manual_seed(0)
    network = model_dicts[BenchmarkDataset.cifar_10][ThreatModel.Linf][name]["model"]().eval()
    path = checkpoint_path(name, root=root)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), path)
    return network


def run_full_scale_cells(
    chapter_number: str,
    monkeypatch,
    runs: Path,
    parameters: dict,
    after_cell: Callable[[dict], None] | None = None,
) -> tuple[dict, dict]:
    """Run a chapter's code cells in this process at full scale on CPU and return the
    cells' namespace and the results record the chapter wrote under ``runs``.

    The parameters cell is replaced by ``parameters`` (plus scale, device, seed and
    results_dir); cells tagged remove-cell (installation) are skipped. ``after_cell`` is
    called with the namespace after every cell, so a test can shrink settings once the set-up
    cell has defined them. Tracebacks name the cell's index in the notebook.
    """
    from advlib.repro import get_chapter

    chapter = get_chapter(chapter_number)
    monkeypatch.chdir(chapter.notebook.parent)
    notebook = nbformat.read(chapter.notebook, as_version=4)
    values = {"scale": "full", "device": "cpu", "seed": 0, "results_dir": str(runs), **parameters}
    overrides = "".join(f"{name} = {value!r}\n" for name, value in values.items())
    namespace: dict = {"__name__": "__main__", "display": lambda *args, **kwargs: None}
    for index, cell in enumerate(notebook.cells):
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code" or "remove-cell" in tags:
            continue
        source = overrides if "parameters" in tags else cell.source
        exec(compile(source, f"{chapter.slug} cell {index}", "exec"), namespace)
        if after_cell is not None:
            after_cell(namespace)
    record = json.loads((runs / "full" / f"{chapter.slug}.json").read_text())
    return namespace, record


def toy_brightness_dataset(n: int = 65, seed: int = 123):
    """Two classes of 8x8 grey images told apart by a brighter left half: learnable in a few
    epochs by a tiny SmallCNN, which is all the distributed-training tests need."""
    import torch

    from advlib.data.dataset import ImageDataset

    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=generator)
    images = torch.randint(0, 100, (n, 1, 8, 8), generator=generator, dtype=torch.uint8)
    images[labels == 1, :, :, :4] += 120
    return ImageDataset(images, labels, ("dark", "bright-left"), name="toy-brightness", split="train", scale="smoke")
