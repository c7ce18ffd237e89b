"""ddddocr, an open-source CAPTCHA OCR, as a black box and as a white-box torch model.

ddddocr (https://github.com/sml2h3/ddddocr, MIT licence) ships two recognisers: the
default ``common_old.onnx`` (dynamically quantised to int8) and the float ``common.onnx``
(its "beta" model). Both are a convolutional backbone, a bidirectional LSTM and a linear
layer over 8,210 characters, read out by CTC greedy decoding; the image is first resized
to height 64 and turned to grey. They share that architecture but not their weights
(:func:`conv_weight_correlations`): the default is not the float model quantised.

* :class:`DdddocrReader` is the black box: the package's own ``DdddOcr.classification``
  on PIL images, exactly as a cracker would call it. No gradients.
* :func:`load_ddddocr_torch` converts ``common.onnx`` to torch with onnx2torch. onnx2torch
  has no converter for the ONNX ``LSTM`` operator, so :func:`register_lstm_converter` adds
  one (a ``torch.nn.LSTM`` with the gate order and layouts translated); the result matches
  onnxruntime to 1e-4 (tested).

The package is an optional dependency of advlib; importing this module without it raises a
:class:`~advlib.errors.DataUnavailableError` that says how to install it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from advlib.errors import DataUnavailableError
from advlib.utils import to_uint8

MODEL_FILES = {"default": "common_old.onnx", "beta": "common.onnx"}
INPUT_HEIGHT = 64
BLANK = 0


def package_dir() -> Path:
    """Where the installed ddddocr package (and its .onnx models) lives."""
    spec = importlib.util.find_spec("ddddocr")
    if spec is None or spec.origin is None:
        raise DataUnavailableError(
            "the ddddocr package", Path("ddddocr"), "pip install ddddocr==1.6.1 (it is in requirements.txt)"
        )
    return Path(spec.origin).parent


def model_path(model: str = "beta") -> Path:
    """The .onnx file of ddddocr's ``'default'`` (int8) or ``'beta'`` (float) recogniser."""
    if model not in MODEL_FILES:
        raise ValueError(f"model must be one of {sorted(MODEL_FILES)}, got {model!r}")
    path = package_dir() / MODEL_FILES[model]
    if not path.is_file():
        raise DataUnavailableError(f"ddddocr's {model} model", path, "reinstall ddddocr==1.6.1")
    return path


def charset(model: str = "beta") -> list[str]:
    """The 8,210 output characters of a ddddocr model, index 0 being the CTC blank ''."""
    from ddddocr.models.charset_manager import CharsetManager

    manager = CharsetManager()
    manager.load_default_charset(old=model == "default", beta=model == "beta")
    return manager.get_charset()


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    """Float images (N, 3, H, W) in [0, 1] as 8-bit RGB PIL images (as a web page serves them)."""
    arrays = to_uint8(images).permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(np.ascontiguousarray(array), mode="RGB") for array in arrays]


class DdddocrReader:
    """The black-box cracker: ``ddddocr.DdddOcr(...).classification`` on every image.

    ``allowed`` restricts the output to the CAPTCHA's alphabet with ddddocr's own
    ``set_ranges`` (which drops other characters after decoding), as a cracker who knows
    the site uses digits would do.
    """

    def __init__(self, model: str = "default", allowed: str | None = None) -> None:
        if model not in MODEL_FILES:
            raise ValueError(f"model must be one of {sorted(MODEL_FILES)}, got {model!r}")
        package_dir()
        import ddddocr

        self.model = model
        self._ocr = ddddocr.DdddOcr(show_ad=False, beta=model == "beta")
        if allowed is not None:
            self._ocr.set_ranges(allowed)

    def read(self, images: torch.Tensor) -> list[str]:
        return [self._ocr.classification(image) for image in to_pil(images)]

    def __repr__(self) -> str:
        return f"DdddocrReader(model={self.model!r})"


# --- the LSTM converter for onnx2torch -------------------------------------------------

_ONNX_TO_TORCH_GATES = (0, 2, 3, 1)  # ONNX packs gates i, o, f, c; torch packs i, f, g(=c), o


def _reorder_gates(weight: torch.Tensor, hidden: int) -> torch.Tensor:
    chunks = weight.split(hidden, dim=0)
    return torch.cat([chunks[k] for k in _ONNX_TO_TORCH_GATES], dim=0)


class OnnxLSTM(nn.Module):
    """The ONNX ``LSTM`` operator (default activations, no peepholes) on ``torch.nn.LSTM``.

    Inputs and outputs keep ONNX's layouts: X (T, N, I) and, when given, initial h and c
    (D, N, H); outputs Y (T, D, N, H), Y_h and Y_c (D, N, H).
    """

    def __init__(self, weight: torch.Tensor, recurrence: torch.Tensor, bias: torch.Tensor | None, hidden: int) -> None:
        super().__init__()
        directions = weight.shape[0]
        self.lstm = nn.LSTM(weight.shape[2], hidden, bidirectional=directions == 2)
        if bias is None:
            bias = torch.zeros(directions, 8 * hidden)
        with torch.no_grad():
            for direction in range(directions):
                suffix = "_reverse" if direction == 1 else ""
                getattr(self.lstm, f"weight_ih_l0{suffix}").copy_(_reorder_gates(weight[direction], hidden))
                getattr(self.lstm, f"weight_hh_l0{suffix}").copy_(_reorder_gates(recurrence[direction], hidden))
                getattr(self.lstm, f"bias_ih_l0{suffix}").copy_(_reorder_gates(bias[direction, : 4 * hidden], hidden))
                getattr(self.lstm, f"bias_hh_l0{suffix}").copy_(_reorder_gates(bias[direction, 4 * hidden :], hidden))
        self.directions, self.hidden = directions, hidden

    def forward(
        self, inputs: torch.Tensor, initial_h: torch.Tensor | None = None, initial_c: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        state = None if initial_h is None else (initial_h, initial_c)
        output, (last_h, last_c) = self.lstm(inputs, state)
        steps, batch = output.shape[:2]
        output = output.view(steps, batch, self.directions, self.hidden).permute(0, 2, 1, 3)
        return output, last_h, last_c


def register_lstm_converter() -> None:
    """Teach onnx2torch the ONNX ``LSTM`` operator (opsets 7, 14 and 22). Idempotent."""
    from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription, add_converter
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

    def convert(node, graph):  # onnx2torch's converter signature: (OnnxNode, OnnxGraph)
        attributes = node.attributes
        unsupported = {
            key: value for key, value in attributes.items()
            if key in ("activations", "activation_alpha", "activation_beta", "clip")
            or (key in ("input_forget", "layout") and value != 0)
        }
        names = list(node.input_values) + [""] * (8 - len(node.input_values))
        x_name, w_name, r_name, b_name, lengths_name, h_name, c_name, peephole_name = names
        if unsupported or lengths_name or peephole_name or bool(h_name) != bool(c_name):
            raise NotImplementedError(
                f"LSTM with {unsupported or 'sequence_lens, peepholes or only one initial state'} is not supported"
            )
        for name in (w_name, r_name) + ((b_name,) if b_name else ()):
            if name not in graph.initializers:
                raise NotImplementedError(f"LSTM weight {name!r} must be a constant initializer")
        bias = graph.initializers[b_name].to_torch() if b_name else None
        module = OnnxLSTM(
            graph.initializers[w_name].to_torch(), graph.initializers[r_name].to_torch(), bias,
            int(attributes["hidden_size"]),
        )
        inputs = (x_name, h_name, c_name) if h_name else (x_name,)
        outputs = tuple(node.output_values)
        return OperationConverterResult(torch_module=module, onnx_mapping=OnnxMapping(inputs=inputs, outputs=outputs))

    for version in (7, 14, 22):
        description = OperationDescription(domain="", operation_type="LSTM", version=version)
        if description not in _CONVERTER_REGISTRY:
            add_converter(operation_type="LSTM", version=version)(convert)


# --- the white-box model ------------------------------------------------------------------

def load_onnx_as_torch(model: str = "beta") -> nn.Module:
    """ddddocr's recogniser as a torch ``fx.GraphModule``: (N, 1, 64, W) grey in [0, 1] -> (T, N, C)."""
    if model != "beta":
        raise ValueError(
            "only the float 'beta' model (common.onnx) converts to torch; the 'default' model is "
            "dynamically quantised (ConvInteger, DynamicQuantizeLSTM) and runs only in onnxruntime"
        )
    from onnx2torch import convert

    register_lstm_converter()
    return convert(str(model_path(model))).eval()


def grey(images: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, the formula of PIL's ``convert('L')`` (without its rounding to 8 bits)."""
    weights = torch.tensor([0.299, 0.587, 0.114], device=images.device, dtype=images.dtype)
    return (images * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


class DdddocrTorch(nn.Module):
    """ddddocr's float recogniser as a differentiable model of RGB images in [0, 1].

    ``forward`` resizes to height 64 (keeping the aspect ratio, bilinear with antialiasing),
    turns the image grey and returns per-frame logits in the library's sequence layout
    (N, C, T): C = 8,210 characters, T frames left to right. ddddocr itself resizes with
    PIL's Lanczos filter on 8-bit images; the tiny difference is measured in the tests.
    """

    def __init__(self, network: nn.Module | None = None) -> None:
        super().__init__()
        self.network = network if network is not None else load_onnx_as_torch("beta")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2:]
        new_width = int(width * (INPUT_HEIGHT / height))
        resized = F.interpolate(images, size=(INPUT_HEIGHT, new_width), mode="bilinear", antialias=True,
                                align_corners=False)
        frames = self.network(grey(resized))  # (T, N, C)
        return frames.permute(1, 2, 0)


def greedy_decode(logits: torch.Tensor, characters: Sequence[str], allowed: str | None = None) -> list[str]:
    """CTC greedy decoding as ddddocr does it: argmax per frame, merge repeats, drop blanks.

    ``allowed`` drops characters outside the CAPTCHA's alphabet (ddddocr's ``set_ranges``).
    """
    best = logits.argmax(dim=1)  # (N, T)
    texts = []
    for row in best.tolist():
        kept, previous = [], None
        for index in row:
            if index != previous and index != BLANK:
                kept.append(characters[index])
            previous = index
        text = "".join(kept)
        texts.append(text if allowed is None else "".join(ch for ch in text if ch in allowed))
    return texts


def ctc_targets(labels: torch.Tensor, alphabet: str, characters: Sequence[str]) -> torch.Tensor:
    """Map CAPTCHA labels (indices into ``alphabet``, shape (N, L)) to ddddocr's character indices."""
    lookup = {ch: index for index, ch in enumerate(characters)}
    missing = [ch for ch in alphabet if ch not in lookup]
    if missing:
        raise ValueError(f"characters {missing} of the alphabet are not in ddddocr's charset")
    table = torch.tensor([lookup[ch] for ch in alphabet], device=labels.device)
    return table[labels]


def ctc_objective(logits: torch.Tensor, targets: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Per-sample CTC loss of the target strings under per-frame logits (N, C, T).

    A recogniser without fixed positions has no per-position cross-entropy; CTC sums over
    every alignment of the string to the frames, so raising it lowers the probability of
    reading the whole string right. Pass it as ``loss=`` to :func:`advlib.attacks.iterative_attack`.
    """
    log_probs = torch.log_softmax(logits, dim=1).permute(2, 0, 1)  # (T, N, C)
    steps, batch = log_probs.shape[:2]
    input_lengths = torch.full((batch,), steps, dtype=torch.long)
    target_lengths = torch.full((batch,), targets.shape[1], dtype=torch.long)
    loss = F.ctc_loss(log_probs.float(), targets, input_lengths, target_lengths, blank=BLANK, reduction="none",
                      zero_infinity=True)
    return -loss if targeted else loss


def conv_weight_correlations() -> list[float]:
    """Per convolution, the correlation between the default model's weights and the float model's.

    The two files have the same layers, which invites reading the int8 default as the float
    ("beta") model quantised. Dequantising its weights (``q - zero_point``; the positive
    per-tensor scale does not change a correlation) and correlating them with the float
    weights of the same layer tells whether that is so.
    """
    import onnx
    from onnx import numpy_helper

    float_model, int8_model = onnx.load(str(model_path("beta"))), onnx.load(str(model_path("default")))
    weights = {tensor.name: numpy_helper.to_array(tensor) for tensor in float_model.graph.initializer}
    quantised = {tensor.name: numpy_helper.to_array(tensor) for tensor in int8_model.graph.initializer}
    correlations = []
    for node in float_model.graph.node:
        if node.op_type != "Conv":
            continue
        name = node.input[1]
        values, zero = quantised.get(f"{name}_quantized"), quantised.get(f"{name}_zero_point")
        if values is None or zero is None or values.shape != weights[name].shape:
            raise ValueError(f"the default model has no quantised counterpart of the convolution weight {name!r}")
        dequantised = values.astype(np.float64) - zero.astype(np.float64)
        correlations.append(float(np.corrcoef(dequantised.ravel(), weights[name].astype(np.float64).ravel())[0, 1]))
    return correlations
