"""Fine-tuning stage: corpus -> conversations -> Qwen2.5-VL fine-tuning, generation and scoring."""

from lift3d.train.data import Corpus, localization_samples, qa_samples, stage_samples
from lift3d.train.evaluate import eval_model, format_table, score_predictions
from lift3d.train.predict import Predictor, eval_samples, predict
from lift3d.train.trainer import load_run, train

__all__ = ["Corpus", "localization_samples", "qa_samples", "stage_samples", "train", "load_run", "predict",
           "Predictor", "eval_samples", "eval_model", "score_predictions", "format_table"]
