"""Datasets by name and scale, from one data root; embedded photos for offline demos."""

from advlib.data.dataset import ImageDataset
from advlib.data.photos import PHOTOS, load_photo
from advlib.data.preprocess import imagenet_preprocess
from advlib.data.registry import SCALES, SPLITS, available_datasets, load_dataset, register_dataset
from advlib.data.root import data_root, downloads_allowed

__all__ = [
    "PHOTOS",
    "SCALES",
    "SPLITS",
    "ImageDataset",
    "available_datasets",
    "data_root",
    "downloads_allowed",
    "imagenet_preprocess",
    "load_dataset",
    "load_photo",
    "register_dataset",
]
