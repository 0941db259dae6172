"""Errors of the depth stage."""

from __future__ import annotations

from lift3d.errors import UserError


class MissingWeightsError(UserError):
    """Model weights are not available offline (not a local directory, not in the HF cache, no network).

    ``str(exc)`` is one line naming the model and how to get it; the CLI prints it and exits 2.
    """

    def __init__(self, model_id: str, why: str = "", local: bool = False):
        self.model_id = model_id
        self.why = why
        if local:
            msg = (
                f"depth model directory '{model_id}' is not usable ({why}): pass a directory written by"
                " save_pretrained (config.json, preprocessor_config.json, *.safetensors), a short name or an HF id"
            )
        else:
            msg = (
                f"depth model weights for '{model_id}' are not available offline"
                + (f" ({why})" if why else "")
                + f": on a machine with network run `hf download {model_id} --exclude '*.bin' '*.pth'` and copy"
                " the HF cache here (set HF_HOME to it), or save the model to a local directory and pass that"
            )
        super().__init__(msg.replace("\n", " "))


class UnsupportedDepthModel(UserError, ValueError):
    """The weights exist but are not a model lift3d can use (wrong model type, relative depth)."""
