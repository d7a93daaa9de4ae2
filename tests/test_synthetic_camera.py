"""The synthetic camera: images that agree with the LiDAR, projection under augmentations,
image features of pasted objects."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xuframe.data import (
    LIDAR_CLASSES,
    SEMANTIC_CLASSES,
    Calibration,
    GlobalFlip,
    GlobalRotation,
    GlobalScale,
    GroundTruthSampling,
    KittiDataset,
    LidarScenes,
    ObjectDatabase,
    collate_lidar,
    kitti_calibration,
    project_points,
    read_calib,
    read_velodyne,
)
from xuframe.data._lidar import _CLASS_MATERIAL, _CLUTTER_MATERIAL, SENSOR_HEIGHT, _ray_box
from xuframe.errors import InputError

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "kitti" / "training"
needs_real = pytest.mark.skipif(
    not (REAL / "calib" / "000008.txt").exists(),
    reason=f"the real KITTI frame is not here ({REAL})",
)
CALIB = kitti_calibration()


def _view(scenes: LidarScenes, i: int):
    """Scene ``i``'s boxes (labelled, then clutter), their classes, and the camera view."""
    rng = np.random.default_rng([scenes.seed, 7, i])
    boxes, classes, clutter, kinds = scenes._layout(rng)
    every = np.concatenate([boxes, clutter])
    materials = np.concatenate([_CLASS_MATERIAL[classes], _CLUTTER_MATERIAL[kinds]])
    return every, materials, scenes._camera(i, every, materials)


def _sample(scene) -> dict:
    return {
        "points": scene.points,
        "boxes": scene.boxes,
        "labels": scene.labels,
        "image": scene.image,
        "semantic": scene.semantic,
        "calib": CALIB,
    }


@pytest.fixture(scope="module")
def scenes() -> LidarScenes:
    return LidarScenes(4, seed=3, images=True)


def test_images_are_seeded_and_leave_the_points_as_they_were(scenes):
    s = scenes[1]
    plain = LidarScenes(4, seed=3)[1]
    assert torch.equal(s.points.xyz, plain.points.xyz)
    assert torch.equal(s.boxes.tensor, plain.boxes.tensor)
    assert plain.image is None and plain.semantic is None and plain.depth is None
    assert s.image.shape == (3, 375, 1242) and s.image.dtype == torch.float32
    assert s.semantic.shape == (375, 1242) and s.semantic.dtype == torch.int64
    assert float(s.image.min()) >= 0 and float(s.image.max()) <= 1
    again = LidarScenes(4, seed=3, images=True)[1]
    assert torch.equal(again.image, s.image) and torch.equal(again.semantic, s.semantic)
    assert not torch.equal(LidarScenes(4, seed=4, images=True)[1].image, s.image)
    assert set(s.semantic.unique().tolist()) <= set(range(len(SEMANTIC_CLASSES)))
    # sky above the horizon, ground below it, at the image's left edge (nothing stands there)
    assert SEMANTIC_CLASSES[int(s.semantic[0, 0])] == "sky"
    assert SEMANTIC_CLASSES[int(s.semantic[-1, 0])] in ("ground", *LIDAR_CLASSES, "other")
    with pytest.raises(InputError, match="images: expected one of True, False"):
        LidarScenes(1, images="yes")


def test_raster_equals_a_ray_cast_through_every_pixel_centre(scenes):
    """The z-buffer over the boxes' screen rectangles = the LiDAR's slab test on the ray of
    every pixel centre against every box and the ground (no box is culled where it shows)."""
    every, materials, view = _view(scenes, 2)
    m = CALIB.P2 @ CALIB.velo_to_rect
    a_inv = np.linalg.inv(m[:, :3])
    centre = -a_inv @ m[:, 3]
    rows, cols = np.meshgrid(np.arange(375), np.arange(1242), indexing="ij")
    pick = (rows.ravel() % 3 == 0) | (cols.ravel() % 5 == 0)  # a third of the pixels
    pix = np.stack([cols.ravel(), rows.ravel(), np.ones(rows.size)], 1)[pick]
    dirs = pix @ a_inv.T
    with np.errstate(divide="ignore", invalid="ignore"):
        s_ground = (-SENSOR_HEIGHT - centre[2]) / dirs[:, 2]
    s_ground = np.where((dirs[:, 2] < 0) & (s_ground > 0), s_ground, np.inf)
    t = np.concatenate([s_ground[:, None], _ray_box(centre, dirs, every)], 1)
    nearest = t.argmin(1)
    depth = t[np.arange(len(t)), nearest]
    expected = np.where(np.isfinite(depth), nearest - 1, -2)
    got = view.surface.numpy().ravel()[pick]
    assert np.array_equal(got, expected)
    np.testing.assert_allclose(view.depth.numpy().ravel()[pick], depth.astype(np.float32))
    assert [SEMANTIC_CLASSES.index(n) for n in LIDAR_CLASSES] == [0, 1, 2]
    semantic = view.semantic.numpy().ravel()[pick]
    assert (semantic[expected == -2] == SEMANTIC_CLASSES.index("sky")).all()
    assert (semantic[expected == -1] == SEMANTIC_CLASSES.index("ground")).all()
    kinds = {0: "Car", 1: "Pedestrian", 2: "Cyclist", 3: "building", 4: "vegetation", 5: "other"}
    for k in range(len(every)):
        on = expected == k
        assert (semantic[on] == SEMANTIC_CLASSES.index(kinds[int(materials[k])])).all()


@pytest.mark.parametrize("i", [0, 1, 2, 3])
def test_every_lidar_point_projects_onto_its_surface_or_something_nearer(scenes, i):
    """Each LiDAR point, put back on the surface its ray hit (range noise removed), projects
    into a pixel that shows that surface (same box, or ground; its class in the label map), or
    a surface nearer to the camera (the z-buffer's depth smaller: the camera, 0.27 m ahead of
    and 0.08 m below the LiDAR, sees the point hidden), or, on the surface's silhouette edge,
    a pixel whose centre ray just misses it while one of its 8 neighbours shows it or
    something nearer (at most 1% of the points)."""
    every, materials, view = _view(scenes, i)
    s = scenes[i]
    xyz = s.points.xyz.double().numpy()
    r = np.linalg.norm(xyz, axis=1)
    d = xyz / r[:, None]
    with np.errstate(divide="ignore"):
        t_ground = np.where(d[:, 2] < 0, -SENSOR_HEIGHT / d[:, 2], np.inf)
    t = np.concatenate([_ray_box(np.zeros(3), d, every), t_ground[:, None]], 1)
    surface = t.argmin(1)
    hit = t[np.arange(len(t)), surface]
    assert (np.abs(hit - r) < 0.15).all()  # the nearest surface is the one measured (7 sigma)
    surface = np.where(surface == len(every), -1, surface)
    proj = project_points(torch.from_numpy(d * hit[:, None]), CALIB)
    inside = proj.inside.numpy()
    assert inside.sum() > 5000
    col, row = proj.pixels[:, 0].numpy()[inside], proj.pixels[:, 1].numpy()[inside]
    want = surface[inside]
    shows = view.surface.numpy()
    same = shows[row, col] == want
    nearer = view.depth.numpy()[row, col] < proj.depth.numpy()[inside] * (1 - 1e-5)
    padded = np.pad(shows, 1, constant_values=-3)
    padded_depth = np.pad(view.depth.numpy(), 1, constant_values=np.inf)
    point_depth = proj.depth.numpy()[inside] * (1 - 1e-5)
    edge = np.zeros_like(same)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            edge |= padded[row + 1 + dr, col + 1 + dc] == want
            edge |= padded_depth[row + 1 + dr, col + 1 + dc] < point_depth
    assert (same | nearer | edge).all()
    assert (~same & ~nearer).mean() < 0.01
    # the label map holds the class of the surface shown
    ids = np.array([0, 1, 2, 4, 5, 7])  # materials -> SEMANTIC_CLASSES ids
    expected = np.where(want >= 0, ids[materials[np.maximum(want, 0)]], 3)
    assert (view.semantic.numpy()[row, col][same] == expected[same]).all()
    # labelled objects: the public label map and z-buffer say the same
    n = len(s.boxes)
    labelled = (want >= 0) & (want < n)
    assert labelled.sum() > 0
    cls = s.labels.numpy()[np.clip(want, 0, max(n - 1, 0))]
    ok = (s.semantic.numpy()[row, col] == cls) | (s.depth.numpy()[row, col] < point_depth)
    assert (ok | edge)[labelled].all()


def test_projection_inverts_the_pixel_rays_and_matches_the_calibration():
    g = np.random.default_rng(0)
    m = CALIB.P2 @ CALIB.velo_to_rect
    a_inv = np.linalg.inv(m[:, :3])
    centre = -a_inv @ m[:, 3]
    uv = g.uniform([0, 0], [1241, 374], (500, 2))
    s = g.uniform(0.5, 80, 500)
    xyz = centre + s[:, None] * (np.concatenate([uv, np.ones((500, 1))], 1) @ a_inv.T)
    proj = project_points(torch.from_numpy(xyz), CALIB)
    np.testing.assert_allclose(proj.uv.numpy(), uv, atol=1e-9)
    np.testing.assert_allclose(proj.depth.numpy(), s, rtol=1e-12)
    assert torch.equal(proj.pixels, torch.floor(proj.uv + 0.5).long())
    assert bool(proj.inside.all())
    np.testing.assert_allclose(
        proj.uv.numpy(), CALIB.project(CALIB.lidar_to_camera(xyz)), atol=1e-9
    )
    # behind the camera: no pixel
    behind = project_points(torch.tensor([[-5.0, 0.0, 0.0], [0.27, 0.0, -0.08]]), CALIB)
    assert not behind.inside.any()
    assert (behind.pixels == -1).all() and (behind.uv == -1).all()
    assert bool(torch.isfinite(behind.depth).all())
    # outside the image: a pixel, not inside
    side = project_points(torch.tensor([[10.0, 30.0, 0.0]]), CALIB)
    assert not side.inside.any() and int(side.pixels[0, 0]) < 0


@needs_real
def test_projection_on_the_real_kitti_frame():
    from xuframe.data import read_image

    calib = read_calib(REAL / "calib" / "000008.txt")
    cloud = read_velodyne(REAL / "velodyne" / "000008.bin")
    image = read_image(REAL / "image_2" / "000008.png")
    h, w = image.shape[1:]
    proj = project_points(cloud.xyz, calib, image_size=(w, h))
    xyz = cloud.xyz.double().numpy()
    front = calib.lidar_to_camera(xyz)[:, 2] + calib.P2[2, 3] > 0.1
    reference = calib.project(calib.lidar_to_camera(xyz[front]))
    np.testing.assert_allclose(proj.uv.numpy()[front], reference, atol=1e-6)
    assert 10000 < int(proj.inside.sum()) < len(xyz)
    # lidar -> pixel -> back along the pixel's ray at the point's depth -> the point
    m = calib.P2 @ calib.velo_to_rect
    a_inv = np.linalg.inv(m[:, :3])
    uv = proj.uv.numpy()[front]
    back = -a_inv @ m[:, 3] + proj.depth.numpy()[front, None] * (
        np.concatenate([uv, np.ones((len(uv), 1))], 1) @ a_inv.T
    )
    np.testing.assert_allclose(back, xyz[front], atol=1e-6)


def test_project_points_refuses_bad_input():
    xyz = torch.zeros(3, 3)
    for bad, message in [
        (lambda: project_points(torch.zeros(3, 2), CALIB), r"xyz: expected shape \(N, 3\)"),
        (lambda: project_points(torch.full((2, 3), math.nan), CALIB), "xyz: expected finite"),
        (lambda: project_points(xyz.numpy(), CALIB), "xyz: expected a torch.Tensor"),
        (lambda: project_points(xyz, None), "calib: expected a Calibration"),
        (lambda: project_points(xyz, CALIB, augmentation=torch.eye(3)), r"shape \(4, 4\)"),
        (lambda: project_points(xyz, CALIB, augmentation=2 * torch.eye(4)), "last row"),
        (
            lambda: project_points(
                xyz, CALIB, augmentation=torch.diag(torch.tensor([1.0, 0, 1, 1]))
            ),
            "invertible",
        ),
        (lambda: project_points(xyz, CALIB, image_size=(0, 5)), "width: expected an int >= 1"),
        (lambda: project_points(xyz, CALIB, image_size=5), r"expected \(width, height\)"),
        (lambda: project_points(torch.full((1, 3), 1e300, dtype=torch.float64), CALIB), "1e\\+12"),
    ]:
        with pytest.raises(InputError, match=message):
            bad()
    assert len(project_points(torch.zeros(0, 3), CALIB).uv) == 0
    proj = project_points(xyz.to(torch.float16), CALIB, augmentation=torch.eye(4))
    assert proj.uv.dtype == torch.float64 and proj.pixels.dtype == torch.int64


# -- augmentations and ground-truth sampling ---------------------------------------------------
@pytest.fixture(scope="module")
def samples():
    scenes = LidarScenes(3, seed=5, azimuth_step=0.6, images=True)
    return [_sample(scenes[i]) for i in range(3)]


@pytest.fixture(scope="module")
def database(samples):
    return ObjectDatabase(samples, min_points=3)


def test_database_objects_carry_the_colour_and_class_of_their_pixels(samples, database):
    assert len(database) > 0
    for objects in database.objects.values():
        for o in objects:
            assert o.rgb is not None and o.semantic is not None
            assert o.rgb.shape == (len(o.points), 3) and o.semantic.shape == (len(o.points),)
    # every object's rows are those of its own scene's pixels
    for sample in samples:
        proj = project_points(sample["points"].xyz, CALIB)
        rgb = torch.zeros(len(proj.uv), 3)
        sem = torch.full((len(proj.uv),), -1)
        ins = proj.inside
        rgb[ins] = sample["image"][:, proj.pixels[ins, 1], proj.pixels[ins, 0]].T
        sem[ins] = sample["semantic"][proj.pixels[ins, 1], proj.pixels[ins, 0]]
        db = ObjectDatabase([sample], min_points=3)
        for objects in db.objects.values():
            for o in objects:
                rows = [
                    int(np.flatnonzero((sample["points"].xyz == p).all(1).numpy())[0])
                    for p in o.points.xyz
                ]
                assert torch.equal(o.rgb, rgb[rows]) and torch.equal(o.semantic, sem[rows])
                # a visible object's points mostly show its own class
                seen = o.semantic[o.semantic >= 0]
                if len(seen) >= 10:
                    assert float((seen == o.label).float().mean()) > 0.5
    # a database of samples without a camera carries none
    bare = [{k: s[k] for k in ("points", "boxes", "labels")} for s in samples]
    o = next(iter(ObjectDatabase(bare, min_points=3).objects.values()))[0]
    assert o.rgb is None and o.semantic is None


_STEPS = st.lists(
    st.tuples(st.sampled_from(["flip", "rotate", "scale"]), st.floats(0.0, 1.0)), max_size=6
)


def _apply(sample: dict, steps) -> dict:
    for kind, x in steps:
        if kind == "flip":
            sample = GlobalFlip(1.0 if x > 0.3 else 0.0)(sample)
        elif kind == "rotate":
            sample = GlobalRotation(x * math.pi)(sample)
        else:
            sample = GlobalScale(0.5 + x, 0.5 + 2 * x)(sample)
    return sample


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, 2), st.booleans(), _STEPS, st.integers(0, 2**31 - 1))
def test_after_any_chain_of_augmentations_every_point_projects_onto_its_pixel(
    samples, database, i, paste, steps, seed
):
    """Points augmented by any chain of flips, rotations and scalings (after ground-truth
    sampling or not), projected with the recorded augmentation undone, land where they were
    before it: the image coordinates agree to 1e-3 pixels, so the pixel is the same unless
    the point sits within 1e-3 of a pixel border (where float rounding may tip it)."""
    torch.manual_seed(seed)
    start = samples[i]
    if paste:
        start = GroundTruthSampling(database, {0: 8, 1: 4, 2: 4})(start)
    before = project_points(start["points"].xyz, CALIB)
    after_sample = _apply(start, steps)
    assert len(after_sample["points"]) == len(start["points"])
    after = project_points(
        after_sample["points"].xyz, CALIB, augmentation=after_sample.get("augmentation")
    )
    front = before.depth > 0.2
    assert torch.equal(after.depth > 0.2, front)
    if bool(front.any()):
        assert float((after.uv - before.uv)[front].abs().max()) < 1e-3
    border = ((before.uv - torch.floor(before.uv) - 0.5).abs() < 1e-3).any(1)
    clear = front & ~border
    assert torch.equal(after.pixels[clear], before.pixels[clear])
    assert torch.equal(after.inside[clear], before.inside[clear])
    # the per-point rows ride along unchanged; pasted points keep their source pixel's colour
    if "pasted" in start:
        for key in ("pasted", "point_rgb", "point_semantic"):
            assert torch.equal(after_sample[key], start[key])
        own = ~start["pasted"] & before.inside
        px = before.pixels[own]
        assert torch.equal(start["point_rgb"][own], start["image"][:, px[:, 1], px[:, 0]].T)


def test_pasted_points_carry_their_source_pixels(samples, database):
    torch.manual_seed(0)
    out = GroundTruthSampling(database, {0: 10, 1: 6, 2: 6})(samples[0])
    pasted = out["pasted"]
    assert pasted.any() and pasted.shape == (len(out["points"]),)
    assert (
        out["point_rgb"].shape == (len(pasted), 3) and out["point_semantic"].shape == pasted.shape
    )
    # pasted points stand where they were cut from and the calibration is shared: their rows
    # are their source image's pixels, which the other scenes' databases reproduce
    sources = {}
    for s in samples:
        for p, rgb in zip(s["points"].xyz, _rows(s), strict=True):
            sources[tuple(p.tolist())] = rgb
    for p, rgb in zip(out["points"].xyz[pasted], out["point_rgb"][pasted], strict=True):
        assert torch.equal(sources[tuple(p.tolist())], rgb)
    # the sample's own points keep their own image's pixels
    own = ~pasted
    proj = project_points(out["points"].xyz[own], CALIB)
    px = proj.pixels[proj.inside]
    assert torch.equal(
        out["point_rgb"][own][proj.inside], samples[0]["image"][:, px[:, 1], px[:, 0]].T
    )
    assert (out["point_semantic"][own][~proj.inside] == -1).all()
    # pasting again keeps the earlier rows of the points it keeps
    torch.manual_seed(1)
    again = GroundTruthSampling(database, {0: 30, 1: 10})(out)
    assert len(again["points"]) > len(out["points"]) and again["pasted"].sum() > pasted.sum()
    earlier = {
        tuple(p.tolist()): (bool(f), rgb)
        for p, f, rgb in zip(out["points"].xyz, pasted, out["point_rgb"], strict=True)
    }
    kept = 0
    for p, f, rgb in zip(again["points"].xyz, again["pasted"], again["point_rgb"], strict=True):
        if tuple(p.tolist()) in earlier:
            kept += 1
            assert earlier[tuple(p.tolist())][0] == bool(f)
            assert torch.equal(earlier[tuple(p.tolist())][1], rgb)
    assert kept > len(out["points"]) // 2
    batch = collate_lidar([GlobalRotation()(out), samples[1]])
    assert len(batch["image"]) == len(batch["semantic"]) == len(batch["augmentation"]) == 2
    assert torch.equal(batch["augmentation"][1], torch.eye(4, dtype=torch.float64))
    assert torch.equal(batch["pasted"][0], pasted) and not batch["pasted"][1].any()
    assert batch["point_rgb"][1] is None


def _rows(sample):
    proj = project_points(sample["points"].xyz, CALIB)
    rgb = torch.zeros(len(proj.uv), 3)
    ins = proj.inside
    rgb[ins] = sample["image"][:, proj.pixels[ins, 1], proj.pixels[ins, 0]].T
    return rgb


def test_camera_keys_are_checked(samples, database):
    s = samples[0]
    paste = GroundTruthSampling(database, {0: 4})
    for change, message in [
        ({"image": torch.zeros(2, 3)}, r"image: expected shape \(3, N, M\)"),
        ({"semantic": torch.zeros(4, 4, dtype=torch.int64)}, r"semantic: expected shape"),
        ({"calib": "calib"}, "calib: expected a Calibration"),
        ({"augmentation": torch.zeros(4, 4)}, "augmentation: expected a last row"),
        ({"pasted": torch.zeros(3, dtype=torch.bool)}, "pasted: expected a bool tensor"),
        ({"point_rgb": torch.zeros(3, 3)}, r"point_rgb: expected shape"),
    ]:
        with pytest.raises(InputError, match=message):
            paste({**s, **change})
    for transform in (GlobalFlip(1.0), GlobalRotation(), GlobalScale()):
        with pytest.raises(InputError, match="augmentation: expected"):
            transform({**s, "augmentation": torch.eye(3)})
    with pytest.raises(InputError, match="image: expected"):
        ObjectDatabase([{**s, "image": torch.zeros(3)}])


def test_kitti_layout_with_images_round_trips(tmp_path):
    scenes = LidarScenes(2, seed=1, azimuth_step=0.8, images=True)
    root = scenes.write_kitti(tmp_path)
    data = KittiDataset(root, images=True)
    for i in range(2):
        sample, scene = data[i], scenes[i]
        assert torch.equal(sample["semantic"], scene.semantic)
        assert float((sample["image"] - scene.image).abs().max()) <= 0.5 / 255 + 1e-6
        assert isinstance(sample["calib"], Calibration)
    assert sorted(p.name for p in (root / "semantic_2").iterdir()) == ["000000.png", "000001.png"]
    # written without images: no image_2 / semantic_2
    plain = LidarScenes(1, seed=1, azimuth_step=0.8).write_kitti(tmp_path / "plain")
    assert not (plain / "image_2").exists() and not (plain / "semantic_2").exists()
    # a label map of another size than its image
    from PIL import Image

    Image.fromarray(np.zeros((4, 4), np.uint8), mode="L").save(root / "semantic_2" / "000000.png")
    with pytest.raises(InputError, match="expected the same height, width"):
        KittiDataset(root, images=True)[0]
    (root / "semantic_2" / "000000.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="cannot read"):
        KittiDataset(root, images=True)[0]


def test_the_example_writes_the_three_row_picture(tmp_path):
    import importlib.util

    from PIL import Image

    path = Path(__file__).resolve().parents[1] / "examples" / "pircnn" / "synthetic_camera.py"
    spec = importlib.util.spec_from_file_location("synthetic_camera_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main(["--seed", "2", "--out", str(tmp_path / "camera.png")])
    with Image.open(out) as picture:
        assert picture.size == (1242, 3 * 375 + 36)
