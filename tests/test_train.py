"""Training: configuration checks, determinism, checkpoints and resume, adversarial training."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import advlib
from advlib.attacks import pgd
from advlib.data import load_dataset
from advlib.evaluate import accuracy
from advlib.models import SmallCNN
from advlib.train import TrainConfig, adversarial_batch, fgsm_random_start, load_checkpoint, train


@pytest.fixture(scope="module")
def smoke():
    return load_dataset("mnist", "train", "smoke"), load_dataset("mnist", "test", "smoke")


def _fresh(seed: int = 0) -> SmallCNN:
    advlib.seed_everything(seed)
    return SmallCNN()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "trades"}, "method"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"schedule": "cosine"}, "schedule"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 1.5}, "batch_size"),
        ({"eps": -0.1}, "eps"),
        ({"lr": 0.0}, "lr"),
        ({"alpha": 0.0}, "alpha"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_default_step_sizes_follow_the_papers():
    assert TrainConfig(method="fgsm", eps=0.1).step_size() == pytest.approx(0.1)
    assert TrainConfig(method="fgsm_rs", eps=0.1).step_size() == pytest.approx(0.125)
    assert TrainConfig(method="pgd", eps=0.1, attack_steps=10).step_size() == pytest.approx(0.025)
    assert TrainConfig(method="pgd", eps=0.1, alpha=0.05).step_size() == 0.05


def test_same_seed_same_model_and_same_adversarial_examples(smoke):
    config = TrainConfig(method="fgsm_rs", epochs=1, eps=0.1, seed=3)
    first, second = _fresh(3), _fresh(3)
    train(first, smoke[0], config, progress=False)
    train(second, smoke[0], config, progress=False)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    x, y = smoke[1].tensors()
    adv_a = pgd(first, x[:16], y[:16], 0.1, generator=torch.Generator().manual_seed(5))
    adv_b = pgd(second, x[:16], y[:16], 0.1, generator=torch.Generator().manual_seed(5))
    assert torch.equal(adv_a, adv_b)
    other = _fresh(4)
    train(other, smoke[0], TrainConfig(method="fgsm_rs", epochs=1, eps=0.1, seed=4), progress=False)
    assert not torch.equal(other.classifier[-1].weight, first.classifier[-1].weight)


def test_checkpoint_resume_equals_an_uninterrupted_run(smoke, tmp_path):
    config = TrainConfig(method="fgsm_rs", epochs=2, eps=0.1, schedule="cyclic")
    whole = _fresh()
    train(whole, smoke[0], config, progress=False)

    path = tmp_path / "run" / "model.pt"
    interrupted = _fresh()  # the same run, killed after its first epoch
    history = train(interrupted, smoke[0], config, checkpoint=path, epoch_callback=lambda epoch, model: True,
                    progress=False)
    assert len(history) == 1 and path.is_file()
    assert not list(path.parent.glob("*.tmp")), "atomic save leaves no temporary file"
    resumed = _fresh(99)  # different init: everything must come from the checkpoint
    history = train(resumed, smoke[0], config, checkpoint=path, progress=False)
    assert [record.epoch for record in history] == [1, 2]
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    payload = load_checkpoint(path, _fresh())
    assert payload["epoch"] == 2 and payload["config"]["method"] == "fgsm_rs"


def test_epoch_callback_records_metrics_and_can_stop(smoke):
    calls = []

    def callback(epoch, model):
        calls.append(epoch)
        return True if epoch == 2 else {"probe": 0.5}

    history = train(_fresh(), smoke[0], TrainConfig(epochs=5), epoch_callback=callback, progress=False)
    assert calls == [1, 2] and len(history) == 2
    assert history[0].extra == {"probe": 0.5}


def test_adversarial_batches_stay_in_the_ball(smoke):
    model = _fresh()
    x, y = smoke[1].tensors()
    x, y = x[:8], y[:8]
    assert adversarial_batch(model, x, y, TrainConfig()) is x
    for method in ("fgsm", "fgsm_rs", "pgd"):
        adv = adversarial_batch(model, x, y, TrainConfig(method=method, eps=0.1), torch.Generator().manual_seed(0))
        assert (adv - x).abs().max() <= 0.1 + 1e-6 and not torch.equal(adv, x)


def test_fgsm_random_start_takes_its_gradient_at_an_unclipped_start():
    """Wong et al.'s FGSM-RS differentiates at x + delta before any clipping to [0, 1] (a start
    clipped first made their MNIST recipe fail at eps 0.3), and returns an image in the box and
    the ball; the same generator gives the same batch, and the model's mode is left as it was."""
    seen = []

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(28 * 28, 10)

        def forward(self, images):
            seen.append(images.detach().min().item())
            return self.linear(images.flatten(1))

    probe = Probe().train()
    black, labels = torch.zeros(4, 1, 28, 28), torch.arange(4)
    first = fgsm_random_start(probe, black, labels, eps=0.3, alpha=0.375, generator=torch.Generator().manual_seed(0))
    assert seen[0] < -0.1, "the gradient must be taken at the unclipped start"
    assert first.min() >= 0 and first.max() <= 0.3 + 1e-6 and first.max() > 0
    again = fgsm_random_start(probe, black, labels, eps=0.3, alpha=0.375, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first, again) and probe.training and probe.linear.weight.grad is None
    config = TrainConfig(method="fgsm_rs", eps=0.3)
    assert torch.equal(adversarial_batch(probe, black, labels, config, torch.Generator().manual_seed(0)), first)
    # the ablation: the start clipped to [0, 1] first, as PGD's is
    seen.clear()
    clipped = dataclasses.replace(config, clip_start=True)
    adversarial_batch(probe, black, labels, clipped, torch.Generator().manual_seed(0))
    assert seen[0] >= 0
    with pytest.raises(ValueError, match="clip_start"):
        TrainConfig(method="pgd", clip_start=True)


def test_semantic_batches_keep_the_pixel_budget_around_the_transformed_digits(smoke):
    """The semantic method trains on transformed digits plus at most eps of pixel change."""
    from advlib.attacks.semantic import apply_attributes

    model = _fresh()
    x, y = smoke[1].tensors()
    x, y = x[:8], y[:8]
    config = TrainConfig(method="semantic", eps=0.1, attack_steps=3)
    adv = adversarial_batch(model, x, y, config)
    assert adv.shape == x.shape and adv.min() >= 0 and adv.max() <= 1 and not torch.equal(adv, x)
    assert config.step_size() == pytest.approx(2.5 * 0.1 / 3)
    assert (adv - x).abs().max() > 0.1, "the attributes move the digits beyond the pixel budget"
    from advlib.attacks import semantic_attack

    result = semantic_attack(model, x, y, eps=0.1, alpha=config.step_size(), steps=3)
    assert torch.equal(adv, result.images)
    torch.testing.assert_close(apply_attributes(x, result.normalised, result.names), result.transformed)


def test_class_weights_enter_the_loss_and_are_checked(smoke):
    """Weighting one class by zero is the same as never showing its digits' loss: its
    weights' gradient then come from the other classes only, so the model forgets it."""
    train_set, test_set = smoke
    x, y = test_set.tensors()
    config = TrainConfig(epochs=2, lr=3e-3, batch_size=64)
    model = _fresh()
    weights = torch.ones(10)
    weights[3] = 0.0
    train(model, train_set, config, class_weights=weights, progress=False)
    with torch.no_grad():
        predictions = model(x).argmax(1)
    assert (predictions == 3).sum().item() == 0, "a class with zero weight is never learnt"
    assert accuracy(model, x[y != 3], y[y != 3]) > 0.7
    with pytest.raises(ValueError, match="class_weights"):
        train(_fresh(), train_set, config, class_weights=torch.tensor([1.0, -1.0]), progress=False)


@pytest.mark.slow
def test_pgd_training_makes_the_model_more_robust(smoke):
    train_set, test_set = smoke
    x, y = test_set.tensors()
    models = {}
    for method in ("natural", "pgd"):
        model = _fresh()
        train(model, train_set, TrainConfig(method=method, epochs=4, lr=3e-3, batch_size=64, eps=0.2,
                                            attack_steps=5, schedule="cyclic"), progress=False)
        models[method] = model
    robust = {
        method: accuracy(model, pgd(model, x, y, 0.2, steps=10, generator=torch.Generator().manual_seed(0)), y)
        for method, model in models.items()
    }
    # Measured (seed 0): natural 0.085, PGD-AT 0.575 under PGD-10 at eps 0.2.
    assert robust["pgd"] > robust["natural"] + 0.3, robust


def _weights(model) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def _same(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[name], second[name]) for name in first)


def test_the_training_cache_loads_exactly_what_training_produces(smoke, tmp_path, monkeypatch):
    from advlib import train_cache

    monkeypatch.setenv(train_cache.CACHE_VARIABLE, str(tmp_path / "cache"))
    config = TrainConfig(epochs=1, batch_size=100, seed=3)
    subset = smoke[0].subset(300)

    trained = _fresh(3)
    history = train(trained, subset, config, progress=False)
    after_training = torch.get_rng_state()
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1, "a finished run is stored"

    torch.manual_seed(123)  # whatever the random state now, a hit restores the one training left
    loaded = _fresh(3)
    loaded_history = train(loaded, subset, config, progress=False)
    assert _same(_weights(loaded), _weights(trained)) and not loaded.training
    assert [record.loss for record in loaded_history] == [record.loss for record in history]
    assert [record.seconds for record in loaded_history] == [record.seconds for record in history]
    assert torch.equal(torch.get_rng_state(), after_training)

    monkeypatch.setenv(train_cache.CACHE_VARIABLE, "off")
    again = _fresh(3)
    train(again, subset, config, progress=False)
    assert _same(_weights(again), _weights(trained)), "training is deterministic, so the cache changes nothing"


def test_the_training_cache_key_covers_weights_data_recipe_and_random_state(smoke, tmp_path, monkeypatch):
    from advlib import train_cache

    monkeypatch.setenv(train_cache.CACHE_VARIABLE, str(tmp_path / "cache"))
    config = TrainConfig(epochs=1, batch_size=100, seed=0)
    subset = smoke[0].subset(200)
    train(_fresh(0), subset, config, progress=False)
    for model, data, recipe in (
        (_fresh(1), subset, config),  # other initial weights
        (_fresh(0), smoke[0].subset(100), config),  # other data
        (_fresh(0), subset, TrainConfig(epochs=1, batch_size=100, seed=0, lr=2e-3)),  # other recipe
    ):
        train(model, data, recipe, progress=False)
    advlib.seed_everything(0)
    model = SmallCNN()
    torch.rand(1)  # the same weights, another random state when training starts
    train(model, subset, config, progress=False)
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 5, "five different runs, five entries"


def test_the_training_cache_skips_what_its_key_cannot_see_and_can_be_write_only(smoke, tmp_path, monkeypatch):
    from advlib import train_cache

    folder = tmp_path / "cache"
    monkeypatch.setenv(train_cache.CACHE_VARIABLE, str(folder))
    config = TrainConfig(epochs=1, batch_size=100, seed=0)
    subset = smoke[0].subset(100)
    train(_fresh(), subset, config, progress=False, epoch_callback=lambda epoch, model: None)
    train(_fresh(), subset, config, progress=False, augment=lambda images: images)
    train(_fresh(), subset, config, progress=False, checkpoint=tmp_path / "run.pt")
    train(_fresh(), subset, config, progress=False, cache=False)
    assert not folder.exists() or not list(folder.glob("*.pt"))

    monkeypatch.setenv(train_cache.MODE_VARIABLE, "write")
    calls = []
    train(_fresh(), subset, config, progress=False)
    stored = list(folder.glob("*.pt"))
    assert len(stored) == 1
    # write-only (what publishing uses) trains again even though the run is cached
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, *a, **k: calls.append(1))
    train(_fresh(), subset, config, progress=False)
    assert calls, "write-only mode trains even when the run is cached"
    monkeypatch.setenv(train_cache.MODE_VARIABLE, "sometimes")
    with pytest.raises(ValueError, match="ADVLIB_TRAIN_CACHE_MODE"):
        train(_fresh(), subset, config, progress=False)


def test_the_training_cache_takes_networks_with_batch_norm(smoke, tmp_path, monkeypatch):
    """BatchNorm keeps a 0-d counter among its buffers; the key must hash it like any tensor."""
    from advlib import train_cache

    monkeypatch.setenv(train_cache.CACHE_VARIABLE, str(tmp_path / "cache"))
    advlib.seed_everything(0)
    network = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                  torch.nn.LazyLinear(10))
    network(torch.zeros(1, 1, 28, 28))  # materialise the lazy layer
    state = _weights(network)
    train(network, smoke[0].subset(100), TrainConfig(epochs=1, batch_size=50), progress=False)
    network.load_state_dict(state)
    train(network, smoke[0].subset(100), TrainConfig(epochs=1, batch_size=50), progress=False)
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1
