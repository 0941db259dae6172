import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    # the tiny model is latency-bound: one intra-op thread is much faster on a shared CPU box
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    from lift3d.build import build
    from lift3d.build import BuildConfig
    from lift3d.synth import generate

    d = tmp_path_factory.mktemp("train_corpus")
    ann = generate(d / "src", 4, 0, width=128, height=96)
    build(str(ann), str(d / "src"), str(d / "out"), BuildConfig(), executor="local", progress=False)
    return str(d / "out")


@pytest.fixture
def pick_ground_samples():
    return _pick


def _pick(corpus, cfg, n=3):
    """One single-box grounding sample per image, distinct prompts."""
    from lift3d.train import localization_samples

    pick, seen = [], set()
    for s in localization_samples(corpus, cfg):
        if s["question_type"] == "loc_ground_single" and s["image_id"] not in seen \
                and s["prompt"] not in {p["prompt"] for p in pick}:
            seen.add(s["image_id"])
            pick.append(s)
    return pick[:n]
