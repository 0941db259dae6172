"""The corpus format is the ecosystem's: TRL's SFTTrainer trains the tiny Qwen2.5-VL straight from
``load_dataset(OUT, "qa")`` of an --embed-images build (offline, CPU), next to lift3d's own trainer on the same
corpus without its image folder."""

from __future__ import annotations

import math
import shutil

import datasets
import pytest

trl = pytest.importorskip("trl")

# Qwen2.5-VL's chat layout (as lift3d/train/encode.py writes it): image placeholders become
# <|vision_start|><|image_pad|><|vision_end|>, which the processor expands to the image's token count.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _processor(image_processor, tokenizer):
    """Qwen2.5-VL's processor without its video half: that needs torchvision, which is not installable here
    (the real one, ``AutoProcessor.from_pretrained("Qwen/Qwen2.5-VL-3B-Instruct")``, is what a user passes)."""
    from transformers import Qwen2_5_VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            self.image_token, self.video_token = "<|image_pad|>", "<|video_pad|>"
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return ImageOnlyQwen2_5_VLProcessor(image_processor, tokenizer, chat_template=CHAT_TEMPLATE)


@pytest.fixture(scope="module")
def embedded_corpus(tmp_path_factory):
    from lift3d.build import BuildConfig, build
    from lift3d.synth import generate

    d = tmp_path_factory.mktemp("trl_corpus")
    ann = generate(d / "src", 2, 3, width=128, height=96)
    build(str(ann), str(d / "src"), str(d / "out"), BuildConfig(embed_images=True, embed_images_format="jpeg"),
          executor="local", progress=False)
    shutil.rmtree(d / "src")  # nothing may need the image folder any more
    return str(d / "out")


def _texts(ds):
    return [c["text"] for r in ds for m in r["messages"] for c in m["content"] if c.get("text")]


def test_trl_sft_trainer_trains_from_load_dataset(embedded_corpus, tmp_path):
    from lift3d.model import resolve_model_config
    from lift3d.model.load import build_tokenizer, image_processor, random_model

    ds = datasets.load_dataset(embedded_corpus, "qa", split="train")  # as it is: messages + images
    assert ds.features["images"] == datasets.List(datasets.Image())
    ds = ds.select(range(8))
    cfg = resolve_model_config("tiny")
    tok = build_tokenizer(_texts(ds), cfg.tokenizer_vocab)
    model = random_model(cfg, tok)
    proc = _processor(image_processor(cfg, model.config), tok)
    args = trl.SFTConfig(output_dir=str(tmp_path / "trl"), max_steps=6, per_device_train_batch_size=2,
                         learning_rate=3e-3, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                         bf16=False, dataloader_num_workers=0, disable_tqdm=True, seed=0)
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=proc)
    # the embedded image really goes in: pixels, and as many image tokens as its patches / merge
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    n_img_tokens = int((batch["input_ids"] == proc.image_token_id).sum())
    assert "pixel_values" in batch and n_img_tokens == int(batch["image_grid_thw"].prod(-1).sum()) // 4 > 0
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 6 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0], losses


def test_lift3d_trainer_on_the_same_corpus_without_its_image_folder(embedded_corpus, tmp_path):
    from lift3d.model import resolve_model_config
    from lift3d.train import Corpus, qa_samples, train

    cfg = resolve_model_config("tiny")
    corpus = Corpus(embedded_corpus, "train")
    samples = qa_samples(corpus, cfg)[:8]
    s = train(embedded_corpus, cfg, str(tmp_path / "own"), samples=samples, max_steps=6, batch_size=2,
              logging_steps=1, save_steps=100)
    lh = s["loss_history"]
    assert len(lh) == 6 and lh[-1] < lh[0], lh
