"""The ground-plane box all fitting steps work on: a gravity-aligned box given by its yaw (c, s) = (cos, sin),
its extents [ul, uh, vl, vh] along the rotated ground axes u = (c, s), v = (-s, c) of the gravity frame and its
down extents hl..hh; the outward direction of its faces, its corners in the camera and in the image, and the
oriented box it finally is (:func:`oriented_box`)."""

from __future__ import annotations

import numpy as np

from lift3d.geometry.boxes import rot_y
from lift3d.geometry.camera import project


def outward(k: int) -> float:
    """The direction a face of the ground-plane box ``[ul, uh, vl, vh]`` moves out along its axis: + for the
    upper bounds (odd index), - for the lower ones."""
    return 1.0 if k % 2 else -1.0


def box_corners_cam(G: np.ndarray, c: float, s: float, ul, uh, vl, vh, hl, hh_) -> np.ndarray:
    """Camera-frame (8, 3) corners of a gravity-aligned box given in rotated ground coordinates (u, v at yaw
    (c, s)) and down extents."""
    u = np.array([ul, uh, ul, uh, ul, uh, ul, uh], dtype=np.float64)
    v = np.array([vl, vl, vh, vh, vl, vl, vh, vh], dtype=np.float64)
    d = np.array([hl, hl, hl, hl, hh_, hh_, hh_, hh_], dtype=np.float64)
    return np.stack([u * c - v * s, d, u * s + v * c], axis=1) @ G.T


def box_corners_px(K: np.ndarray, G: np.ndarray, c: float, s: float, ul, uh, vl, vh, hl, hh_) -> np.ndarray:
    """Image x coordinates of the 8 corners of a gravity-aligned box given in rotated ground coordinates
    (u, v at yaw (c, s)) and down extents; nan for corners at or behind the camera."""
    P = box_corners_cam(G, c, s, ul, uh, vl, vh, hl, hh_)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = project(P, K)[:, 0]
    return np.where(P[:, 2] > 1e-6, x, np.nan)


def corner_span(K: np.ndarray, G: np.ndarray, c: float, s: float, hl: float, hh_: float):
    """A function of the ground-plane extents ``e = [ul, uh, vl, vh]`` giving (min, max) of the image x coordinates
    of the box's 8 corners (:func:`box_corners_px` at that yaw and down extents), or (None, None) when a corner is at
    or behind the camera.  The corners are linear in (u, v, down), so each is two dot products of precomputed
    coefficients: the bisections of the cover growth call it some hundred times per object."""
    g = np.asarray(G, dtype=np.float64)
    k = np.asarray(K, dtype=np.float64)
    A, B, C = c * g[:, 0] + s * g[:, 2], -s * g[:, 0] + c * g[:, 2], g[:, 1]  # camera-frame u, v, down axes
    nx, dx = [float(k[0] @ t) for t in (A, B, C)], [float(k[2] @ t) for t in (A, B, C)]
    zz = [float(A[2]), float(B[2]), float(C[2])]

    def span(e):
        ul, uh, vl, vh = (float(t) for t in e)
        lo, hi = np.inf, -np.inf
        for u in (ul, uh):
            for v in (vl, vh):
                for d in (hl, hh_):
                    if u * zz[0] + v * zz[1] + d * zz[2] <= 1e-6:
                        return None, None
                    x = (u * nx[0] + v * nx[1] + d * nx[2]) / (u * dx[0] + v * dx[1] + d * dx[2])
                    lo, hi = min(lo, x), max(hi, x)
        return lo, hi
    return span


def oriented_box(e4: list, c: float, s: float, hl: float, hh_: float, G: np.ndarray, min_dim: float):
    """(centre_cam, dims (w, h, l), R_cam, yaw, ext): the oriented box of the ground-plane box ``e4`` with its
    length axis along the longer horizontal extent; yaw in (-pi/2, pi/2] (a box is symmetric under a half
    turn); every dimension at least ``min_dim`` / 2 (a perfectly flat face still gets a sliver)."""
    ru = np.array([c, s])  # u axis in (x, fwd)
    rv = np.array([-s, c])
    ul, uh, vl, vh = e4
    ext = np.array([uh - ul, vh - vl])
    # box: length axis = the longer horizontal extent
    if ext[0] >= ext[1]:
        L, wl = ru, (ext[1], ext[0])
    else:
        L, wl = rv, (ext[0], ext[1])
    yaw = float(np.arctan2(L[0], L[1]))
    # boxes are symmetric under a half turn: keep yaw in (-pi/2, pi/2]
    if yaw <= -np.pi / 2:
        yaw += np.pi
    elif yaw > np.pi / 2:
        yaw -= np.pi
    cu, cv = 0.5 * (ul + uh), 0.5 * (vl + vh)
    cx, cf = cu * c - cv * s, cu * s + cv * c
    centre_g = np.array([cx, 0.5 * (hl + hh_), cf])
    centre_cam = G @ centre_g
    R = G @ rot_y(yaw)
    dims = np.array([wl[0], hh_ - hl, wl[1]], dtype=np.float64)
    dims = np.maximum(dims, min_dim * 0.5)  # a perfectly flat face still gets a sliver
    return centre_cam, dims, R, yaw, ext
