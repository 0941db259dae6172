"""Oriented 3D boxes in the camera frame: the one place the box convention is defined.

Conventions (see docs/conventions.md):

* Camera frame: x right, y down, z forward, metres.
* A box is ``center`` (3,), ``dims`` = (w, h, l) (3,) and ``R`` (3, 3), the rotation object -> camera.
  Its corners are ``center + R @ (±w/2, ±h/2, ±l/2)``.  The box's local axes are the columns of ``R``:
  column 0 is the width axis, column 1 the height axis, column 2 the length axis; the face at local
  ``+l/2`` is the *front* face.
* When the direction of gravity is known, column 1 of ``R`` equals the unit ``down`` vector, so ``h`` is
  the vertical extent, and the box is described by a single ``yaw`` about the down axis.
* Gravity frame: columns (e_x, e_down, e_fwd) where e_down is gravity (down), e_fwd is the camera z axis
  projected onto the ground plane and e_x = e_down x e_fwd (points right for a level camera).  For a
  level camera (down = (0, 1, 0)) the gravity frame is the identity.
* ``yaw`` is the rotation of the box about e_down, measured in the gravity frame with the same sense as
  a rotation about the camera y axis (Omni3D): ``R = G @ Ry(yaw)`` with
  ``Ry(t) = [[cos t, 0, sin t], [0, 1, 0], [-sin t, 0, cos t]]``.  yaw = 0 puts the length axis along
  e_fwd (pointing away from the camera), yaw = +pi/2 puts it along +e_x (to the right).

Pure numpy, no torch, no Ray.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Unit-box corner signs, ordered so that 0-3 are the back face (-l/2) and 4-7 the front face (+l/2),
# each face going (-x,-y), (+x,-y), (+x,+y), (-x,+y): x right, y down.
CORNER_SIGNS = np.array(
    [
        [-1, -1, -1],
        [1, -1, -1],
        [1, 1, -1],
        [-1, 1, -1],
        [-1, -1, 1],
        [1, -1, 1],
        [1, 1, 1],
        [-1, 1, 1],
    ],
    dtype=np.float64,
)
FRONT_FACE = (4, 5, 6, 7)
# The 12 edges of a box, as pairs of corner indices.
EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 0),
    (4, 5), (5, 6), (6, 7), (7, 4),
    (0, 4), (1, 5), (2, 6), (3, 7),
)

LEVEL_DOWN = np.array([0.0, 1.0, 0.0])


def rot_y(t: float) -> np.ndarray:
    """Rotation about the (local) y axis by ``t`` radians, Omni3D sense."""
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def normalize(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n < 1e-12:
        raise ValueError(f"cannot normalise a zero or non-finite vector {v!r}")
    return v / n


def gravity_frame(down: np.ndarray | None) -> np.ndarray:
    """3x3 matrix whose columns are (e_x, e_down, e_fwd) in camera coordinates.

    ``down`` None means gravity unknown: the camera frame itself is returned.
    """
    if down is None:
        return np.eye(3)
    d = normalize(down)
    fwd = np.array([0.0, 0.0, 1.0]) - d[2] * d
    if np.linalg.norm(fwd) < 1e-6:  # camera looking straight down/up: use camera x to fix the frame
        x = np.array([1.0, 0.0, 0.0]) - d[0] * d
        x = normalize(x)
        fwd = np.cross(x, d)
    fwd = normalize(fwd)
    x = np.cross(d, fwd)
    return np.stack([x, d, fwd], axis=1)


def rotation_from_yaw(yaw: float, down: np.ndarray | None = None) -> np.ndarray:
    """Object->camera rotation of a gravity-aligned box with the given yaw."""
    return gravity_frame(down) @ rot_y(yaw)


def yaw_from_rotation(R: np.ndarray, down: np.ndarray | None = None) -> float:
    """Inverse of :func:`rotation_from_yaw` for gravity-aligned boxes; result in (-pi, pi]."""
    local = gravity_frame(down).T @ np.asarray(R, dtype=np.float64)
    # local ~= rot_y(yaw): local[0, 2] = sin, local[2, 2] = cos
    return float(np.arctan2(local[0, 2], local[2, 2]))


def box_corners(center, dims, R) -> np.ndarray:
    """(8, 3) corners of a box; see CORNER_SIGNS for the order."""
    c = np.asarray(center, dtype=np.float64).reshape(3)
    d = np.asarray(dims, dtype=np.float64).reshape(3)
    Rm = np.asarray(R, dtype=np.float64).reshape(3, 3)
    return c + (CORNER_SIGNS * (d / 2.0)) @ Rm.T


@dataclass(frozen=True)
class Box3D:
    """An oriented box in the camera frame (see module docstring)."""

    center: np.ndarray
    dims: np.ndarray
    R: np.ndarray

    @staticmethod
    def from_yaw(center, dims, yaw: float, down=None) -> "Box3D":
        return Box3D(
            np.asarray(center, dtype=np.float64),
            np.asarray(dims, dtype=np.float64),
            rotation_from_yaw(yaw, down),
        )

    @staticmethod
    def from_row(obj: dict) -> "Box3D":
        """From an output-contract object dict (center_cam, dimensions, R_cam row-major)."""
        return Box3D(
            np.asarray(obj["center_cam"], dtype=np.float64),
            np.asarray(obj["dimensions"], dtype=np.float64),
            np.asarray(obj["R_cam"], dtype=np.float64).reshape(3, 3),
        )

    def to_row(self) -> dict:
        return {
            "center_cam": [float(v) for v in self.center],
            "dimensions": [float(v) for v in self.dims],
            "R_cam": [float(v) for v in np.asarray(self.R).reshape(9)],
        }

    def corners(self) -> np.ndarray:
        return box_corners(self.center, self.dims, self.R)

    def yaw(self, down=None) -> float:
        return yaw_from_rotation(self.R, down)

    @property
    def volume(self) -> float:
        return float(np.prod(self.dims))

    def contains(self, points: np.ndarray, eps: float = 1e-9) -> np.ndarray:
        """Boolean mask of the (N, 3) points that lie inside the box."""
        local = (np.asarray(points, dtype=np.float64) - self.center) @ np.asarray(self.R)
        return np.all(np.abs(local) <= self.dims / 2.0 + eps, axis=1)


def is_rotation(R: np.ndarray, tol: float = 1e-6) -> bool:
    R = np.asarray(R, dtype=np.float64).reshape(3, 3)
    return bool(np.allclose(R.T @ R, np.eye(3), atol=tol) and abs(np.linalg.det(R) - 1.0) < tol)
