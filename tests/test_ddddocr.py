"""ddddocr as a black box (onnxruntime) and as a white-box torch model (onnx2torch + our LSTM)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("ddddocr")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from advlib.captcha import CaptchaSpec, make_captchas  # noqa: E402
from advlib.captcha import ddddocr as dd  # noqa: E402


def _session(path: str):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the model declares a wrong output shape; silence the warning
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def test_lstm_converter_matches_onnxruntime(tmp_path):
    """A random bidirectional LSTM with biases and initial states, opset 12, both ways."""
    from onnx import TensorProto, helper, numpy_helper
    from onnx2torch import convert

    rng = np.random.default_rng(0)
    steps, batch, size, hidden, directions = 5, 3, 6, 4, 2
    weights = {
        "W": rng.normal(size=(directions, 4 * hidden, size)).astype(np.float32),
        "R": rng.normal(size=(directions, 4 * hidden, hidden)).astype(np.float32),
        "B": rng.normal(size=(directions, 8 * hidden)).astype(np.float32),
    }
    node = helper.make_node(
        "LSTM", ["X", "W", "R", "B", "", "h0", "c0"], ["Y", "Yh", "Yc"], hidden_size=hidden, direction="bidirectional"
    )
    graph = helper.make_graph(
        [node], "lstm",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in
         (("X", [steps, batch, size]), ("h0", [directions, batch, hidden]), ("c0", [directions, batch, hidden]))],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("Y", "Yh", "Yc")],
        [numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    path = tmp_path / "lstm.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7  # what opset 12 needs; newer onnx writes an IR onnxruntime may not read yet
    onnx.save(model, path)
    feeds = {
        "X": rng.normal(size=(steps, batch, size)).astype(np.float32),
        "h0": rng.normal(size=(directions, batch, hidden)).astype(np.float32),
        "c0": rng.normal(size=(directions, batch, hidden)).astype(np.float32),
    }
    expected = _session(str(path)).run(None, feeds)
    dd.register_lstm_converter()
    dd.register_lstm_converter()  # idempotent
    module = convert(str(path))
    with torch.no_grad():
        got = module(*(torch.from_numpy(feeds[name]) for name in ("X", "h0", "c0")))
    for ours, theirs in zip(got, expected, strict=True):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-5)


@pytest.fixture(scope="module")
def torch_model():
    return dd.DdddocrTorch().eval()


@pytest.fixture(scope="module")
def captcha_batch():
    return make_captchas(12, seed=21).tensors()


def test_converted_common_onnx_matches_onnxruntime_to_1e4(torch_model, captcha_batch):
    images = captcha_batch[0][:4]
    grey = dd.grey(torch.nn.functional.interpolate(images, size=(64, 170), mode="bilinear", antialias=True))
    session = _session(str(dd.model_path("beta")))
    with torch.no_grad():
        ours = torch_model.network(grey)  # (T, N, C), the whole batch at once
    for index in range(grey.shape[0]):
        theirs = session.run(None, {"input1": grey[index : index + 1].numpy()})[0]
        assert ours[:, index : index + 1].shape == theirs.shape
        assert np.abs(ours[:, index : index + 1].numpy() - theirs).max() < 1e-4


def test_white_box_reads_like_the_package(torch_model, captcha_batch):
    """Our differentiable pipeline (bilinear resize) vs ddddocr's own (Lanczos on 8 bits)."""
    images, _ = captcha_batch
    spec = CaptchaSpec()
    with torch.no_grad():
        ours = dd.greedy_decode(torch_model(images), dd.charset("beta"), allowed=spec.charset)
    theirs = dd.DdddocrReader("beta", allowed=spec.charset).read(images)
    agreement = np.mean([a == b for a, b in zip(ours, theirs, strict=True)])
    assert agreement >= 0.75, (ours, theirs)


def test_default_model_is_black_box_only():
    with pytest.raises(ValueError, match="quantised"):
        dd.load_onnx_as_torch("default")
    with pytest.raises(ValueError, match="model must be"):
        dd.model_path("huge")


def test_default_and_float_models_share_layers_but_not_weights():
    correlations = dd.conv_weight_correlations()
    assert len(correlations) == 21, "every convolution of the float model has an int8 counterpart of one shape"
    assert max(abs(c) for c in correlations) < 0.1, "the int8 default is not the float model quantised"


def test_greedy_decode_and_ctc_targets():
    characters = ["", "a", "b", "1"]
    frames = torch.tensor([[1, 1, 0, 1, 2, 2, 3, 0]])  # a a _ a b b 1 _  ->  "aab1"
    logits = torch.nn.functional.one_hot(frames, 4).float().permute(0, 2, 1)
    assert dd.greedy_decode(logits, characters) == ["aab1"]
    assert dd.greedy_decode(logits, characters, allowed="1") == ["1"]
    targets = dd.ctc_targets(torch.tensor([[0, 1]]), "1b", characters)
    assert targets.tolist() == [[3, 2]]
    with pytest.raises(ValueError, match="not in ddddocr"):
        dd.ctc_targets(torch.tensor([[0]]), "z", characters)


def test_ctc_attack_on_the_white_box_lowers_the_reading(torch_model, captcha_batch):
    from advlib.attacks import iterative_attack

    images, labels = captcha_batch[0][:3], captcha_batch[1][:3]
    targets = dd.ctc_targets(labels, CaptchaSpec().charset, dd.charset("beta"))
    with torch.no_grad():
        before = dd.ctc_objective(torch_model(images), targets, False)
    adv = iterative_attack(torch_model, images, targets, eps=8 / 255, alpha=2 / 255, steps=3, loss=dd.ctc_objective)
    with torch.no_grad():
        after = dd.ctc_objective(torch_model(adv), targets, False)
    assert (after > before).all()
