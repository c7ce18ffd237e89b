"""Chapter 5's face pipeline: the ORL loader, FaceNet's conversion, dlib, verification, APF.

The conversion test is the proof the issue asks for: the torch FaceNet built from the frozen
graph gives the same embeddings as OpenCV's own ``cv2.dnn`` forward of that graph.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from advlib.data import att_faces
from advlib.errors import DataUnavailableError
from advlib.faces import apf
from advlib.faces.tf_graph import read_graph
from advlib.faces.verification import (
    accepted,
    best_threshold,
    genuine_pairs,
    impostor_pairs,
    photo_quality,
    squared_distance,
    true_accept_rate,
    verification_accuracy,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def mirror_url() -> str:
    if not (SHARED / "att_faces").is_dir():
        pytest.skip(f"ORL copy not found at {SHARED} (only present in this project's CI)")
    return SHARED.as_uri()


@pytest.fixture(scope="session")
def faces(tmp_path_factory, mirror_url) -> att_faces.Faces:
    """All 400 photos, fetched by the loader's own download code from the local mirror."""
    root = tmp_path_factory.mktemp("orl")
    return att_faces.load_att_faces(root=root, download=True, base_url=mirror_url)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    from advlib.faces.facenet import facenet

    return facenet(root=tmp_path_factory.mktemp("facenet"))


# --- the ORL loader ------------------------------------------------------------------


def test_loader_reads_all_400_photos_with_their_identities(faces):
    assert faces.images.shape == (400, 1, 112, 92) and faces.images.dtype == torch.uint8
    assert torch.equal(torch.bincount(faces.identities), torch.full((40,), 10))
    assert faces.images.float().std() > 20  # real photos, not blank
    assert float(faces.float_images().min()) >= 0.0 and float(faces.float_images().max()) <= 1.0


def test_manifest_covers_every_photo_and_the_readme():
    files = att_faces.REPO.files_under(att_faces.PREFIX)
    assert len(files) == 401 and "att_faces/README" in files


def test_a_download_with_a_wrong_checksum_is_rejected_and_not_kept(tmp_path, mirror_url):
    mirror = tmp_path / "mirror"
    shutil.copytree(SHARED / "att_faces", mirror / "att_faces")
    victim = mirror / "att_faces" / "s3" / "4.pgm"
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    root = tmp_path / "root"
    with pytest.raises(DataUnavailableError, match="checksum mismatch"):
        att_faces.load_att_faces(root=root, download=True, base_url=mirror.as_uri())
    assert not (root / att_faces.REPO.folder / "att_faces" / "s3" / "4.pgm").exists()
    assert not list((root / att_faces.REPO.folder).rglob("*.tmp"))


def test_a_corrupt_photo_on_disk_is_an_error(tmp_path, mirror_url):
    att_faces.load_att_faces(root=tmp_path, download=True, base_url=mirror_url)
    (tmp_path / att_faces.REPO.folder / "att_faces" / "s1" / "1.pgm").write_bytes(b"P5\n1 1\n255\n\x00")
    with pytest.raises(DataUnavailableError, match="does not match"):
        att_faces.load_att_faces(root=tmp_path, download=False)


def test_missing_photos_with_downloads_off_name_the_folder_and_the_remedy(tmp_path):
    with pytest.raises(DataUnavailableError, match="ChiTatZhang/server_graduate") as error:
        att_faces.load_att_faces(root=tmp_path, download=False)
    assert "Downloading is off" in str(error.value) and "ADVLIB_ATT_FACES_URL" in str(error.value)


def test_read_pgm_skips_comments(tmp_path):
    path = tmp_path / "x.pgm"
    path.write_bytes(b"P5\n# a comment\n3 2\n255\n" + bytes(range(6)))
    assert att_faces.read_pgm(path).tolist() == [[0, 1, 2], [3, 4, 5]]
    path.write_bytes(b"P2\n3 2\n255\n0 1 2 3 4 5")
    with pytest.raises(ValueError, match="binary PGM"):
        att_faces.read_pgm(path)


def test_split_by_identity_shares_no_subject(faces):
    train, test = att_faces.split_by_identity(faces, 24, seed=3)
    assert len(train) == 240 and len(test) == 160
    assert not set(train.identities.tolist()) & set(test.identities.tolist())
    again, _ = att_faces.split_by_identity(faces, 24, seed=3)
    assert torch.equal(again.identities, train.identities)
    with pytest.raises(ValueError, match="train_subjects"):
        att_faces.split_by_identity(faces, 40, seed=0)


# --- the frozen-graph reader and FaceNet's conversion ----------------------------------


def _field(number: int, payload: bytes) -> bytes:
    def varint(value: int) -> bytes:
        out = b""
        while True:
            byte, value = value & 0x7F, value >> 7
            out += bytes([byte | (0x80 if value else 0)])
            if not value:
                return out

    return varint(number << 3 | 2) + varint(len(payload)) + payload


def test_graph_reader_decodes_constants_from_the_wire_format(tmp_path):
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    shape = _field(2, bytes([8, 2])) + _field(2, bytes([8, 3]))  # dim { size: 2 } dim { size: 3 }
    tensor = bytes([8, 1]) + _field(2, shape) + _field(4, values.tobytes())  # dtype float
    attr = _field(1, b"value") + _field(2, _field(8, tensor))
    node = _field(1, b"w") + _field(2, b"Const") + _field(5, attr)
    conv = _field(1, b"conv") + _field(2, b"Conv2D") + _field(3, b"input:0") + _field(3, b"w")
    scalar = bytes([8, 1]) + _field(5, struct.pack("<f", 0.17))  # a packed float_val
    mul = _field(1, b"mul/x") + _field(2, b"Const") + _field(5, _field(1, b"value") + _field(2, _field(8, scalar)))
    path = tmp_path / "g.pb"
    path.write_bytes(_field(1, node) + _field(1, conv) + _field(1, mul))
    nodes = read_graph(path)
    assert list(nodes) == ["w", "conv", "mul/x"]
    np.testing.assert_array_equal(nodes["w"].value, values)
    assert nodes["conv"].inputs == ["input:0", "w"] and nodes["conv"].value is None
    assert float(nodes["mul/x"].value) == pytest.approx(0.17)
    path.write_bytes(_field(1, node)[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_graph(path)


@pytest.mark.slow
def test_converted_facenet_equals_opencv_on_the_same_graph(faces):
    """The proof of the conversion: torch and cv2.dnn agree on real faces to 1e-5."""
    import cv2

    from advlib.faces.facenet import INPUT_SIZE, convert_frozen_graph, fixed_standardization, graph_path

    model, mapping = convert_frozen_graph()
    assert mapping[0] == ("conv2d_1a.conv", "InceptionResnetV1/Conv2d_1a_3x3")
    photos = faces.float_images()[::80].expand(-1, 3, -1, -1)
    inputs = fixed_standardization(torch.nn.functional.interpolate(photos, size=(INPUT_SIZE, INPUT_SIZE)))
    with torch.no_grad():
        ours = model(inputs).numpy()
    network = cv2.dnn.readNetFromTensorflow(str(graph_path()))
    theirs = []
    for face in inputs.numpy():  # the graph's reshape fixes the batch to one
        network.setInput(face[None])
        theirs.append(network.forward()[0])
    np.testing.assert_allclose(ours, np.stack(theirs), atol=1e-5)
    assert np.abs(ours - np.roll(np.stack(theirs), 1, axis=0)).max() > 0.1  # different faces differ


@pytest.mark.slow
def test_facenet_is_cached_and_tells_people_apart(tmp_path, faces):
    from advlib.faces.facenet import facenet, weights_path

    model = facenet(root=tmp_path)
    assert weights_path(tmp_path).is_file()
    cached = facenet(root=tmp_path)
    photos = faces.float_images()[[0, 1, 10, 11]]
    with torch.no_grad():
        first, second = model(photos), cached(photos)
    torch.testing.assert_close(first, second)
    assert torch.allclose(first.norm(dim=1), torch.ones(4))
    same = squared_distance(first[[0, 2]], first[[1, 3]])
    different = squared_distance(first[[0, 1]], first[[2, 3]])
    assert same.max() < different.min()
    with pytest.raises(ValueError, match="FaceNet expects"):
        model(torch.rand(2, 2, 160, 160))


# --- dlib, the black box ---------------------------------------------------------------


@pytest.mark.slow
def test_dlib_descriptors_tell_people_apart(faces):
    from advlib.faces.dlib_recognizer import DlibRecognizer

    recognizer = DlibRecognizer()
    descriptors = recognizer(faces.float_images()[[0, 1, 10, 11]])
    assert descriptors.shape == (4, 128)
    same = squared_distance(descriptors[[0, 2]], descriptors[[1, 3]])
    different = squared_distance(descriptors[[0, 1]], descriptors[[2, 3]])
    assert same.max() < different.min()
    with pytest.raises(ValueError, match="expected photos"):
        recognizer(torch.rand(3, 112, 92))


# --- verification metrics --------------------------------------------------------------


def test_genuine_pairs_follow_shot_order_within_each_subject():
    identities = torch.tensor([0, 0, 0, 1, 1, 0])
    shots = torch.tensor([1, 0, 2, 0, 1, 3])
    pairs = genuine_pairs(identities, shots)
    assert pairs.first.tolist() == [1, 2, 3] and pairs.second.tolist() == [0, 5, 4]
    assert pairs.same.all()
    with pytest.raises(ValueError, match="no genuine pairs"):
        genuine_pairs(torch.tensor([0, 1]), torch.tensor([0, 0]))


def test_impostor_pairs_never_pair_a_subject_with_itself():
    identities = torch.arange(20) // 5
    pairs = impostor_pairs(identities, 50, seed=0)
    assert (identities[pairs.first] != identities[pairs.second]).all() and not pairs.same.any()


def test_threshold_tar_and_verification_accuracy_on_known_distances():
    distances = torch.tensor([0.1, 0.2, 0.3, 1.5, 1.6, 0.9, 2.0, 0.25])
    same = torch.tensor([True, True, True, False, False, True, False, False])
    threshold = best_threshold(distances, same)
    assert ((distances < threshold) == same).float().mean() == 7 / 8  # 0.25 impostor vs 0.9 genuine
    assert verification_accuracy(torch.tensor([0.1, 2.0] * 10), torch.tensor([True, False] * 10), folds=5) == 1.0
    references = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    assert true_accept_rate(references, references, 1.02) == 1.0
    assert true_accept_rate(-references, references, 1.02) == 0.0
    mixed = torch.cat([references[:3], -references[3:]])
    assert accepted(mixed, references, 1.02).tolist() == [True, True, True, False]
    assert true_accept_rate(mixed, references, 1.02) == 0.75
    with pytest.raises(ValueError, match="both genuine and impostor"):
        best_threshold(distances, torch.ones(8, dtype=torch.bool))


def test_photo_quality_is_high_for_small_noise_and_low_for_large():
    photos = torch.rand(3, 1, 32, 32)
    small = (photos + 2 / 255 * torch.randn_like(photos)).clamp(0, 1)
    large = torch.rand_like(photos)
    psnr_small, ssim_small = photo_quality(small, photos)
    psnr_large, ssim_large = photo_quality(large, photos)
    assert psnr_small > 40 > 15 > psnr_large and ssim_small > 0.9 > 0.3 > ssim_large


# --- APF ---------------------------------------------------------------------------------


class _ToyEmbedder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 16 * 16, 8))

    def forward(self, x):
        return torch.nn.functional.normalize(self.net(x), dim=1)


@pytest.mark.parametrize("attack", apf.ATTACKS)
def test_embedding_attacks_stay_in_budget_move_away_and_leave_inputs_alone(attack):
    model, photos = _ToyEmbedder(), torch.rand(6, 1, 16, 16)
    enrolled = model(photos).detach()
    before = photos.clone()
    eps = 8 / 255
    generator = torch.Generator().manual_seed(0)
    adversarial = apf.embedding_attack(model, photos, enrolled, attack, eps=eps, generator=generator)
    assert torch.equal(photos, before)
    assert (adversarial - photos).abs().max() <= eps + 1e-6 and adversarial.min() >= 0 and adversarial.max() <= 1
    assert squared_distance(model(adversarial), enrolled).mean() > 1e-4
    with pytest.raises(ValueError, match="attack must be one of"):
        apf.embedding_attack(model, photos, enrolled, "PGD", eps=eps)
    with pytest.raises(ValueError, match="enrolled embeddings"):
        apf.embedding_attack(model, photos, enrolled[:2], attack, eps=eps)


def test_transfer_net_starts_as_the_identity_and_clips_to_eps():
    eps = 8 / 255
    gradient = eps * torch.randn(2, 1, 20, 18).sign()
    plain = apf.TransferNet(1, eps)
    torch.testing.assert_close(plain(gradient), gradient)
    universal = torch.full((1, 20, 18), eps / 2)
    enhanced = apf.TransferNet(1, eps, universal=universal)
    torch.testing.assert_close(enhanced(gradient), (gradient + universal).clamp(-eps, eps))
    with pytest.raises(ValueError, match="levels and width"):
        apf.TransferNet(1, 0.0)


def test_universal_perturbation_and_transfer_training_push_embeddings_away():
    model, photos = _ToyEmbedder(), torch.randint(0, 256, (16, 1, 16, 16)) / 255  # 8-bit photos
    enrolled = model(photos.flip(0)).detach()
    eps = 8 / 255
    universal = apf.universal_perturbation(model, photos, enrolled, eps=eps, epochs=2)
    assert universal.shape == photos.shape[1:] and universal.abs().max() <= eps + 1e-7
    gradients = apf.embedding_attack(model, photos, enrolled, "I-FGSM", eps=eps) - photos
    transfer = apf.TransferNet(1, eps, width=8, levels=2, universal=universal)
    config = apf.TransferConfig(epochs=8, batch_size=8)
    history = apf.train_transfer(transfer, model, photos, gradients, enrolled, config)
    assert history[-1] > history[0]
    protected = apf.protect(transfer, photos, gradients, eps)
    steps = (protected - photos).abs() * 255
    assert steps.max() <= 8 + 1e-4 and torch.allclose(protected * 255, (protected * 255).round(), atol=1e-4)
    with pytest.raises(ValueError, match="same length"):
        apf.train_transfer(transfer, model, photos, gradients[:3], enrolled)


def test_distilled_probe_moves_towards_its_targets():
    from advlib.faces.probe import DistillConfig, ProbeNet, distill_probe

    probe = ProbeNet(width=8, embedding_size=16)
    photos = torch.rand(24, 1, 112, 92)
    targets = torch.nn.functional.normalize(torch.randn(24, 16), dim=1)
    history = distill_probe(probe, photos, targets, DistillConfig(epochs=6, batch_size=8, max_shift=2))
    assert history[-1] < history[0] and not probe.training
    with pytest.raises(ValueError, match="target embeddings"):
        distill_probe(probe, photos, targets[:3])
    with pytest.raises(ValueError, match="epochs"):
        DistillConfig(epochs=0)


# --- full-scale data, on fake files in the real formats ----------------------------------


def _fake_bin(path: Path, pairs: int, seed: int = 0) -> list[bool]:
    """An InsightFace-style verification file: pickle of (JPEG bytes list, issame list)."""
    import io
    import pickle

    from PIL import Image

    rng = np.random.default_rng(seed)
    bins = []
    for _ in range(2 * pairs):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)).save(buffer, format="JPEG")
        bins.append(buffer.getvalue())
    issame = [bool(k % 2 == 0) for k in range(pairs)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps((bins, issame)))
    return issame


def test_benchmark_loader_reads_insightface_bin_files(tmp_path):
    from advlib.data import face_benchmarks

    issame = _fake_bin(tmp_path / face_benchmarks.BENCHMARK_FOLDER / "agedb_30.bin", pairs=6)
    pairs = face_benchmarks.load_benchmark("agedb_30", root=tmp_path)
    assert pairs.images.shape == (12, 3, 112, 112) and pairs.same.tolist() == issame
    first, second = pairs.genuine()
    assert first.tolist() == [0, 4, 8] and second.tolist() == [1, 5, 9]
    assert len(face_benchmarks.load_benchmark("agedb_30", root=tmp_path, limit=2)) == 2


def test_benchmark_loader_names_each_missing_file_and_rejects_bad_ones(tmp_path):
    from advlib.data import face_benchmarks

    for name, file in face_benchmarks.BENCHMARKS.items():
        with pytest.raises(DataUnavailableError, match=file) as error:
            face_benchmarks.load_benchmark(name, root=tmp_path)
        assert "face-benchmarks" in str(error.value) and "insightface" in str(error.value)
    with pytest.raises(ValueError, match="benchmark must be one of"):
        face_benchmarks.load_benchmark("megaface", root=tmp_path)
    broken = tmp_path / face_benchmarks.BENCHMARK_FOLDER / "lfw.bin"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not an InsightFace verification file"):
        face_benchmarks.load_benchmark("lfw", root=tmp_path)


def test_identity_folder_loader(tmp_path):
    from PIL import Image

    from advlib.data import face_benchmarks

    with pytest.raises(DataUnavailableError, match="face-train"):
        face_benchmarks.load_identity_folder(root=tmp_path)
    for person in ("bob", "alice"):
        for shot in range(3):
            path = tmp_path / face_benchmarks.TRAIN_FOLDER / person / f"{shot}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (120, 130), (shot * 40, 0, 0)).save(path)
    faces = face_benchmarks.load_identity_folder(root=tmp_path, per_identity=2)
    assert faces.images.shape == (4, 3, 112, 112)
    assert faces.identities.tolist() == [0, 0, 1, 1] and faces.shots.tolist() == [0, 1, 0, 1]
