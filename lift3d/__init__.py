"""lift3d: 2D-annotated images + metric depth -> 3D grounding and spatial-reasoning corpora."""

__version__ = "0.1.0"
