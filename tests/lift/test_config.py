"""LiftConfig in sections (lift3d.lift.config): section dicts, the former flat keys, errors, pickling."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from lift3d.lift import LiftConfig
from lift3d.lift.config import FLAT_KEYS, SECTIONS, ScaleConfig


def test_sections_and_flat_keys_are_the_same_options():
    a = LiftConfig(scale={"from_priors": True}, amodal={"top_keep": 1.0, "enabled": False})
    b = LiftConfig(scale_from_priors=True, top_keep=1.0, amodal=False)
    assert a == b and a.scale.from_priors and a.scale_from_priors is True
    assert LiftConfig.from_dict({"scale": ScaleConfig(max_factor=2.0)}).scale.max_factor == 2.0
    assert LiftConfig.from_dict(None) == LiftConfig()
    # a flat key then a section dict: the dict applies on top
    c = LiftConfig(scale_from_priors=True, scale={"prior_std": 0.1})
    assert c.scale.from_priors and c.scale.prior_std == 0.1
    # instances do not share their sections
    d = LiftConfig()
    d.scale.from_priors = True
    assert not LiftConfig().scale.from_priors


def test_every_field_has_exactly_one_flat_key():
    n_fields = sum(len(dataclasses.fields(cls)) for cls in SECTIONS.values())
    assert len(FLAT_KEYS) == n_fields >= 80
    assert set(FLAT_KEYS.values()) == {(s, f.name) for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
    for key, (sec, name) in FLAT_KEYS.items():
        assert getattr(LiftConfig(), key) == getattr(getattr(LiftConfig(), sec), name) or key in SECTIONS


@pytest.mark.parametrize("opts", [{"bogus": 1}, {"scale": {"bogus": 1}}, {"crop": 3}])
def test_unknown_options_are_refused(opts):
    with pytest.raises(TypeError, match="LiftConfig"):
        LiftConfig(**opts)


def test_pickles_and_copies():
    c = LiftConfig(scale_from_priors=True, cover={"tol_px": 2.0})
    assert pickle.loads(pickle.dumps(c)) == c and copy.deepcopy(c) == c
    with pytest.raises(AttributeError):
        LiftConfig().no_such_option  # noqa: B018


def test_flat_switches_named_like_their_section_keep_their_truth_value():
    assert LiftConfig().depth_field and not LiftConfig(depth_field=False).depth_field
    assert LiftConfig().amodal and not LiftConfig(amodal=False).amodal
    with pytest.raises(AttributeError, match="section"):
        LiftConfig().scale_from_priors = True  # would be silently ignored otherwise


def test_replaced_copies_with_new_sections():
    cfg = LiftConfig(scale={"from_priors": True})
    crop = dataclasses.replace(cfg.crop, mask_erode_px=3)
    new = cfg.replaced(crop=crop)
    assert new.crop.mask_erode_px == 3 and new.scale == cfg.scale and new is not cfg
    assert cfg.crop == LiftConfig(scale={"from_priors": True}).crop  # the original is unchanged
