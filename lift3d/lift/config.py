"""``LiftConfig``: every threshold of the lifter, with its meaning and unit."""

from __future__ import annotations

from dataclasses import dataclass




@dataclass
class LiftConfig:
    min_points: int = 20
    max_points: int = 2000  # points kept per object (deterministic subsample) for the fits
    max_crop_px: int = 16000  # larger 2D boxes are read with a stride
    remove_background_plane: bool = True  # box-only: drop a wall seen around the box border
    outside_min_share: float = 0.5  # ... only when this share of a band outside the box lies on it (0 = off)
    outside_gap_px: int = 2  # ... the band starts this far outside the box's top, left and right edges
    outside_band_px: int = 6  # ... and is this wide
    outside_points: int = 600
    mask_erode_px: int = 1
    # depth noise: points from a local linear fit of 1/z over their (2 r + 1)^2 selected neighbours.  Opt-in:
    # +0.013 IoU at the true depth scale, +0.002 with scale_from_priors, +1.5 ms/object (tuning seeds)
    smooth_px: int = 0
    flying_rel: float = 0.06  # relative second difference of 1/z above which a pixel is "flying"
    floor_tol: float = 0.04  # m; points this close to the floor plane are floor
    floor_tol_rel: float = 0.01  # + this fraction of the distance
    floor_snap: float = 0.30  # m; a bottom this close above the floor is put on it
    floor_snap_rel: float = 0.25  # + this fraction of the object's height
    merge_depth_rel: float = 0.15  # components within this relative depth of the best are merged
    merge_min_frac: float = 0.05
    support_surface: bool = True  # box-only: drop a horizontal support (table top) across the box's bottom
    support_band: float = 0.15  # ... looked for in this bottom share of the box's rows
    support_span: float = 0.6  # ... it spans this share of the box's width
    contact_window: float = 0.8  # box-only: footprint window behind the floor contact, x prior diagonal (0 = off)
    contact_min_share: float = 0.25  # ... applied only when this share of the points falls inside it
    footprint_radius: float = 0.5  # box-only: ground-plane trim radius, x prior diagonal (0 = off)
    footprint_grow_max: float = 1.5  # ... widened by the seen height / prior height, up to this factor
    footprint_gap: float = 0.10  # m; ... or at the first empty gap beyond the prior's half diagonal
    footprint_min_share: float = 0.6
    # box-only: a component inside the 2D box of another annotation that covers only part of ours is that
    # object (see other_objects): its score is multiplied by other_box_weight (1 = off) and it is not merged
    other_box_weight: float = 0.2
    other_box_area: float = 0.5  # the other box covers at most this share of our box's area
    other_box_contain: float = 0.8  # share of the component's extent inside the other box
    # box-only: the top is measured without the pixels of other annotations standing on ours (on_top_points)
    on_top_boxes: bool = True
    on_top_margin: float = 0.1  # ... their box ends this share of our box's height above our bottom edge
    on_top_width: float = 0.5  # ... and overlaps at most this share of our box's width
    span_power: float = 1.0  # box-only: component score x (2D extent / box size)^span_power
    centre_sigma: float = 0.35  # box-only: centre weight sigma (fraction of the box size)
    outlier_k: float = 8.0  # sparse-outlier margin, in 16ths of the 2-98 % range
    pct_lo: float = 0.3  # extent percentiles (outliers are removed before)
    pct_hi: float = 99.7
    yaw_step_deg: float = 5.0
    amodal: bool = True
    amodal_strength: float = 1.0
    # an occluded or vertically cut object seen over less than this share of its category's height (and not on
    # the floor) gets the prior's height, from the unseen side (0 = off)
    height_complete: float = 0.5
    # the unseen depth lies behind the visible surface, or in front of it where an occluder hides that space
    # (:func:`occluded_slab`: most pixels there show something nearer, few show free space behind): then
    # this share of the completion goes in front (0 = always behind)
    near_complete: float = 0.5
    near_max_behind: float = 0.2
    near_min_front: float = 0.5
    # a top face seen from above spans the footprint (a table, a box, a lamp's shade): the completion is scaled
    # by top_keep when the points within top_tol of the object's top cover top_cover of the seen extent along
    # both horizontal axes and at least top_min_ext metres (not a backrest's rim), the top lying at least
    # top_min_below under the camera (:func:`top_face_seen`; top_keep = 1 is off)
    top_keep: float = 0.25
    top_cover: float = 0.8
    top_min_ext: float = 0.18
    top_tol: float = 0.04
    top_min_below: float = 0.1
    # an object whose across-view extent falls short of its prior by more than (1 - side_frac) x the prior's and
    # whose 2D box ends at something nearer (an occluder in a side_band px band beyond its left or right edge,
    # at least side_min_share of its pixels) or at the image border continues behind it: side_complete of the
    # shortfall is added on that side (split when both are hidden; :func:`hidden_sides`; 0 = off)
    side_complete: float = 0.75
    side_frac: float = 0.85
    side_band_px: int = 6
    side_gap_px: int = 2
    side_min_share: float = 0.5
    # a category whose prior footprint is about square (short side >= square_ratio x long side: lamps, chairs,
    # stools): the completed depth goes square_blend of the way from the prior's to the width seen across the view
    # (0 = off)
    square_blend: float = 0.5
    square_ratio: float = 0.9
    prior_scale_by_height: bool = True
    estimate_gravity: bool = True
    min_gravity_confidence: float = 0.2
    min_dim: float = 0.01
    max_dim: float = 60.0
    max_prior_ratio: float = 8.0
    few_points: int = 150
    border_px: float = 2.0
    prior_floor_snap: float = 0.3  # snap to the floor when that makes the height fit the prior within 30 %
    # floor contact from the 2D box (:func:`floor_contact`): the box's bottom edge meets the floor within
    # the object's footprint (ground range of its points +- contact_tol + contact_tol_rel x range)
    floor_contact: bool = True
    cover_box: bool = True  # grow the box until its projection reaches the 2D box's side edges
    cover_tol_px: float = 1.0
    cover_near_cost: float = 1.5  # a near face must get there with a 1.5x smaller move than a far face
    box_reach: bool = True  # the object reaches down at least to its 2D box's bottom edge (:func:`bottom_reach`)
    contact_tol: float = 0.10  # m
    contact_tol_rel: float = 0.05
    yaw_points: int = 400  # points used by the yaw search
    # model depth only (with scale_from_priors): divide out the smooth multiplicative depth distortion measured on
    # the room's planes (depth_field.estimate_depth_field); never applied to sensor depth
    depth_field: bool = True
    # per-image depth scale from the category height priors (model / monocular depth only: never
    # silently for sensor depth).  See :func:`estimate_depth_scale`.
    scale_from_priors: bool = False
    scale_prior_std: float = 0.05  # spread of log(scale) before looking at the objects
    scale_meas_std: float = 0.04  # measurement spread of one object's height (relative)
    scale_box_only_factor: float = 2.0  # box-only heights are less reliable (supported objects, walls)
    scale_outlier_k: float = 2.5  # ratios beyond k sigma of the weighted median are ignored
    scale_t_nu: float = 4.0  # Student-t degrees of freedom of the ratios' errors (0: plain weighted mean)
    scale_max: float = 1.5  # the factor is clipped to [1/scale_max, scale_max]
