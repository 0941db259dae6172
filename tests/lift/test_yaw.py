"""Yaw about the up axis (lift3d.lift.yaw): the rectangle orientation the ground points lie on."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.lift.yaw import fit_yaw, seen_extents


def _rect_boundary(theta, a=1.2, b=0.6, n=400, faces=(0, 1, 2, 3)):
    """Points on the faces of an a x b rectangle rotated by theta (ground coordinates x, forward)."""
    t = np.linspace(-0.5, 0.5, n // 4)
    sides = [np.c_[t * a, np.full_like(t, -b / 2)], np.c_[np.full_like(t, a / 2), t * b],
             np.c_[t * a, np.full_like(t, b / 2)], np.c_[np.full_like(t, -a / 2), t * b]]
    p = np.vstack([sides[i] for i in faces])
    c, s = np.cos(theta), np.sin(theta)
    return p @ np.array([[c, s], [-s, c]]) + [0.3, 3.0]


@pytest.mark.parametrize("deg", [0.0, 17.0, 40.0, 71.0])
def test_fit_yaw_finds_the_rectangle_orientation_modulo_90(deg):
    theta, conf = fit_yaw(_rect_boundary(np.radians(deg)), 5.0, 0.3, 99.7, 400)
    err = abs((np.degrees(theta) - deg + 45.0) % 90.0 - 45.0)
    assert err < 1.0 and 0.0 <= np.degrees(theta) < 90.0
    assert conf > 0.5


def test_an_l_shaped_view_pins_the_orientation_and_a_disc_does_not():
    theta, conf = fit_yaw(_rect_boundary(np.radians(25.0), faces=(0, 1)), 5.0, 0.3, 99.7, 400)
    assert abs(np.degrees(theta) - 25.0) < 1.5 and conf > 0.3
    ang = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    _, conf_disc = fit_yaw(np.c_[np.cos(ang), np.sin(ang)], 5.0, 0.3, 99.7, 400)
    assert conf_disc < 0.25


def test_seen_extents_in_the_rotated_frame():
    q = np.array([[0.0, 0.5, 2.0], [1.0, 0.7, 2.0], [0.0, 0.6, 3.0], [1.0, 0.9, 3.0]])
    u, v, e4 = seen_extents(q, 1.0, 0.0, 0.0, 100.0)  # yaw 0: u = x, v = forward
    assert np.allclose(u, q[:, 0]) and np.allclose(v, q[:, 2])
    assert np.allclose(e4, [0.0, 1.0, 2.0, 3.0])
    c, s = np.cos(np.pi / 2), np.sin(np.pi / 2)  # a quarter turn: u = forward, v = -x
    _, _, e4 = seen_extents(q, c, s, 0.0, 100.0)
    assert np.allclose(e4, [2.0, 3.0, -1.0, 0.0], atol=1e-12)


def test_an_observations_yaw_is_fitted_once_and_does_not_depend_on_the_scale():
    """The scale step and the fit share one yaw per observation (yaw.observation_yaw); the fit's points are the
    observation's divided by the image's scale, which leaves the yaw as it is."""
    from lift3d.lift import LiftConfig
    from lift3d.lift.result import Observation
    from lift3d.lift.yaw import observation_yaw

    g2 = _rect_boundary(np.radians(25.0))
    q = np.stack([g2[:, 0], np.zeros(len(g2)), 4.0 + g2[:, 1]], axis=1)
    ob = Observation({}, [0, 0, 10, 10], False, q, q[:, 2], [], 1.0, None)
    cfg = LiftConfig()
    theta, conf = observation_yaw(ob, cfg)
    assert ob.yaw == (theta, conf) and observation_yaw(ob, cfg) is ob.yaw
    t2, c2 = fit_yaw(q[:, [0, 2]] / 1.37, cfg.yaw.step_deg, cfg.extent.pct_lo, cfg.extent.pct_hi, cfg.yaw.points)
    assert t2 == pytest.approx(theta, abs=1e-12) and c2 == pytest.approx(conf, abs=1e-12)
