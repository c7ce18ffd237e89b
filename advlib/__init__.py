"""advlib: the library behind the adversarial-examples book.

Every chapter imports from here instead of copying code between notebooks. Conventions
shared by all modules: images are NCHW float32 tensors in [0, 1]; ``device="auto"``
picks CUDA, then MPS, then CPU; randomness is controlled by :func:`seed_everything`.
"""

from advlib.utils import resolve_device, seed_everything

__version__ = "0.1.0"
__all__ = ["__version__", "resolve_device", "seed_everything"]
