"""PI-RCNN's segmentation sub-network: shapes, the focal loss, mIoU, training, bad input."""

from __future__ import annotations

import io
import math

import pytest
import torch
import torch.nn.functional as F

from xuframe.data import SEMANTIC_CLASSES, LidarScenes
from xuframe.errors import InputError
from xuframe.testing._bad_input import call_cases, judge
from xuframe_plugins.pircnn.segmentation import (
    SEMANTIC_PALETTE,
    ImageSegmenter,
    SegmentationDataset,
    evaluate_segmenter,
    segmentation_focal_loss,
    segmentation_miou,
    train_segmenter,
)


@pytest.fixture(scope="module")
def scenes():
    rendered = LidarScenes(2, seed=0, images=True)
    return [rendered[0], rendered[1]]


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.3, 0.01])
@pytest.mark.parametrize("size", [(1, 1), (2, 5), (7, 13), (33, 17), (40, 64)])
def test_the_logits_have_the_input_size(scale, size):
    torch.manual_seed(0)
    model = ImageSegmenter(widths=(4, 8, 8), num_classes=5, scale=scale)
    logits = model(torch.rand(2, 3, *size))
    assert logits.shape == (2, 5, *size)
    assert torch.isfinite(logits).all()
    assert model.predict(torch.rand(1, 3, *size)).shape == (1, *size)


def test_the_defaults_segment_a_kitti_sized_image():
    model = ImageSegmenter().eval()
    assert model.num_classes == len(SEMANTIC_CLASSES) == len(SEMANTIC_PALETTE)
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 375, 1242))
    assert logits.shape == (1, len(SEMANTIC_CLASSES), 375, 1242)


def test_a_batch_segments_each_image_as_alone():
    torch.manual_seed(0)
    model = ImageSegmenter(widths=(4, 8)).eval()
    images = torch.rand(3, 3, 20, 30)
    together = model(images)
    alone = torch.cat([model(images[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_the_state_dict_round_trips_with_weights_only():
    torch.manual_seed(0)
    model = ImageSegmenter(widths=(4, 8), scale=0.5).eval()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    again = ImageSegmenter(widths=(4, 8), scale=0.5).eval()
    again.load_state_dict(torch.load(buffer, weights_only=True))
    images = torch.rand(1, 3, 16, 24)
    torch.testing.assert_close(model(images), again(images), rtol=0, atol=0)


def test_focal_loss_by_hand():
    # one image of three pixels, two classes: p = 0.5 (label 0), p = 0.75 (label 0), ignored
    logits = torch.tensor([[[[0.0, math.log(3.0), 5.0]], [[0.0, 0.0, -5.0]]]])
    labels = torch.tensor([[[0, 0, -1]]])
    first = 0.5**2 * math.log(2.0)
    second = 0.25**2 * -math.log(0.75)
    assert float(segmentation_focal_loss(logits, labels)) == pytest.approx((first + second) / 2)
    cross = (math.log(2.0) - math.log(0.75)) / 2
    assert float(segmentation_focal_loss(logits, labels, gamma=0)) == pytest.approx(cross)


def test_focal_loss_with_gamma_zero_is_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 9, 11, dtype=torch.float64)
    labels = torch.randint(-1, 6, (2, 9, 11))
    expected = F.cross_entropy(logits, labels, ignore_index=-1)
    torch.testing.assert_close(segmentation_focal_loss(logits, labels, gamma=0.0), expected)
    # another ignore index
    labels[labels == -1] = 255
    torch.testing.assert_close(
        segmentation_focal_loss(logits, labels, gamma=0.0, ignore_index=255), expected
    )


def test_class_weights_average_as_cross_entropy_does():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 5, 6, dtype=torch.float64)
    labels = torch.randint(-1, 4, (2, 5, 6))
    weight = torch.tensor([0.5, 2.0, 0.0, 1.0], dtype=torch.float64)
    expected = F.cross_entropy(logits, labels, weight=weight, ignore_index=-1)
    for given in (weight, weight.tolist()):
        loss = segmentation_focal_loss(logits, labels, gamma=0, weight=given)
        torch.testing.assert_close(loss, expected)
    # equal weights are no weights; zero weights everywhere give 0
    plain = segmentation_focal_loss(logits, labels)
    torch.testing.assert_close(segmentation_focal_loss(logits, labels, weight=[3.0] * 4), plain)
    assert float(segmentation_focal_loss(logits, labels, weight=[0.0] * 4)) == 0.0
    model = ImageSegmenter(widths=(4,), num_classes=4, class_weights=[1, 2, 3, 4])
    assert model.class_weights == (1.0, 2.0, 3.0, 4.0)
    with pytest.raises(InputError, match="class_weights"):
        ImageSegmenter(widths=(4,), num_classes=4, class_weights=[1, 2, 3])
    with pytest.raises(InputError, match="weight"):
        segmentation_focal_loss(logits, labels, weight=[1.0, -1.0, 1.0, 1.0])
    with pytest.raises(InputError, match="weight"):
        segmentation_focal_loss(logits, labels, weight=torch.tensor([1.0, math.nan, 1.0, 1.0]))


def test_focal_loss_weighs_down_easy_pixels():
    torch.manual_seed(0)
    logits = torch.randn(1, 4, 8, 8)
    labels = torch.randint(0, 4, (1, 8, 8))
    losses = [float(segmentation_focal_loss(logits, labels, gamma=g)) for g in (0, 0.5, 2, 5)]
    assert losses == sorted(losses, reverse=True) and losses[-1] > 0


def test_ignored_pixels_do_not_contribute():
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 4, 5, requires_grad=True)
    labels = torch.randint(0, 3, (1, 4, 5))
    labels[0, :2] = -1
    loss = segmentation_focal_loss(logits, labels)
    loss.backward()
    assert (logits.grad[0, :, :2] == 0).all() and (logits.grad[0, :, 2:] != 0).any()
    # changing the ignored pixels' logits changes nothing; the mean is over labelled pixels
    changed = logits.detach().clone()
    changed[0, :, :2] = 100 * torch.randn(3, 2, 5)
    assert float(segmentation_focal_loss(changed, labels)) == pytest.approx(float(loss.detach()))
    kept = segmentation_focal_loss(logits.detach()[..., 2:, :], labels[..., 2:, :])
    assert float(kept) == pytest.approx(float(loss.detach()))
    nothing = torch.full_like(labels, -1)
    empty = segmentation_focal_loss(logits, nothing)
    assert float(empty.detach()) == 0.0 and empty.requires_grad


def test_focal_loss_gradient_is_finite_for_confident_pixels():
    logits = torch.tensor([[[[80.0]], [[-80.0]]]], requires_grad=True)
    loss = segmentation_focal_loss(logits, torch.tensor([[[0]]]), gamma=0.5)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-12)


def test_miou_by_hand():
    labels = torch.tensor([[0, 0, 1, 1]])
    predicted = torch.tensor([[0, 1, 1, 1]])
    scores = segmentation_miou(predicted, labels, 3)
    assert scores["IoU/0"] == pytest.approx(1 / 2) and scores["IoU/1"] == pytest.approx(2 / 3)
    assert "IoU/2" not in scores  # in neither the labels nor the prediction
    assert scores["mIoU"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert scores["accuracy"] == pytest.approx(3 / 4)
    # a class predicted but absent from the labels counts, with IoU 0
    scores = segmentation_miou(torch.tensor([[0, 2]]), torch.tensor([[0, 0]]), 3)
    assert scores["IoU/2"] == 0.0 and scores["mIoU"] == pytest.approx(0.25)
    # ignored pixels count nowhere; names name the entries
    scores = segmentation_miou(
        torch.tensor([[0, 2, 2]]), torch.tensor([[0, -1, -1]]), 3, class_names=("a", "b", "c")
    )
    assert scores == {"mIoU": 1.0, "accuracy": 1.0, "IoU/a": 1.0}


def test_miou_of_logits_is_miou_of_their_argmax():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6, 7)
    labels = torch.randint(-1, 4, (2, 6, 7))
    assert segmentation_miou(logits, labels, 4) == segmentation_miou(logits.argmax(1), labels, 4)
    perfect = segmentation_miou(labels.clamp_min(0), labels, 4)
    assert perfect["mIoU"] == 1.0 and perfect["accuracy"] == 1.0


def test_the_dataset_keeps_labels_on_their_pixels(scenes):
    torch.manual_seed(0)
    data = SegmentationDataset(scenes, crop=(64, 96), flip=True, jitter=0.0)
    image = (scenes[0].image * 255).round() / 255
    for _ in range(12):
        sample = data[0]
        assert sample["image"].shape == (3, 64, 96) and sample["semantic"].shape == (64, 96)
        # find the crop in the original: the labels and the image agree at one offset
        found = False
        for flipped in (False, True):
            crop = sample["image"].flip(-1) if flipped else sample["image"]
            labels = sample["semantic"].flip(-1) if flipped else sample["semantic"]
            hits = (image[0] == crop[0, 0, 0]).nonzero()
            for top, left in hits.tolist():
                window = image[:, top : top + 64, left : left + 96]
                if window.shape[1:] == (64, 96) and torch.equal(window, crop):
                    assert torch.equal(scenes[0].semantic[top : top + 64, left : left + 96], labels)
                    found = True
                    break
            if found:
                break
        assert found
    whole = SegmentationDataset(scenes, crop=None, flip=False, jitter=0.0)[1]
    assert torch.equal(whole["semantic"], scenes[1].semantic)


def test_training_on_two_scenes_learns_them(scenes):
    torch.manual_seed(0)
    model = ImageSegmenter(widths=(8, 16, 32))
    losses = train_segmenter(model, scenes, steps=40, lr=1e-2, batch_size=2, crop=(160, 320))
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5
    scores = evaluate_segmenter(model, scenes, class_names=SEMANTIC_CLASSES)
    labels = torch.stack([s.semantic for s in scenes])
    majority = float(torch.bincount(labels.flatten()).max()) / labels.numel()
    assert scores["accuracy"] > majority + 0.2, (scores, majority)
    assert scores["IoU/Car"] > 0.3 and scores["IoU/sky"] > 0.5, scores
    assert model.training  # evaluation restored the mode


def test_bad_input_is_refused_with_a_message():
    model = ImageSegmenter(widths=(4, 8))
    good = torch.rand(1, 3, 8, 8)
    with pytest.raises(InputError, match=r"images: expected shape \(B, 3, H, W\)"):
        model(torch.rand(1, 4, 8, 8))
    with pytest.raises(InputError, match=r"images: expected shape \(B, 3, H, W\)"):
        model(torch.rand(3, 8, 8))
    with pytest.raises(InputError, match="finite values"):
        model(torch.where(good > 0.5, math.nan, good))
    with pytest.raises(InputError, match="divide an 8-bit image by 255"):
        model(good * 255)
    with pytest.raises(InputError, match="non-empty"):
        model(torch.rand(0, 3, 8, 8))
    with pytest.raises(InputError, match="dtype"):
        model(good.double())
    with pytest.raises(InputError, match="torch.Tensor"):
        model(good.numpy())
    logits = torch.randn(1, 8, 8, 8)
    with pytest.raises(InputError, match=r"labels: expected shape \(1, 8, 8\)"):
        segmentation_focal_loss(logits, torch.zeros(1, 8, 7, dtype=torch.int64))
    with pytest.raises(InputError, match="labels: expected integer class ids"):
        segmentation_focal_loss(logits, torch.zeros(1, 8, 8))
    with pytest.raises(InputError, match=r"class ids in \[0, 7\] or -1"):
        segmentation_focal_loss(logits, torch.full((1, 8, 8), 8))
    with pytest.raises(InputError, match="finite"):
        segmentation_focal_loss(torch.full((1, 8, 8, 8), math.nan), torch.zeros(1, 8, 8).long())
    with pytest.raises(InputError, match="gamma"):
        segmentation_focal_loss(logits, torch.zeros(1, 8, 8).long(), gamma=-1)
    with pytest.raises(InputError, match="logits_or_predictions"):
        segmentation_miou(torch.randn(1, 5, 8, 8), torch.zeros(1, 8, 8).long(), 8)
    with pytest.raises(InputError, match=r"labels: expected shape \(1, 8, 8\)"):
        segmentation_miou(torch.zeros(1, 8, 8).long(), torch.zeros(8, 8).long(), 8)
    with pytest.raises(InputError, match="class_names"):
        segmentation_miou(torch.zeros(1, 8).long(), torch.zeros(1, 8).long(), 8, class_names=["a"])
    with pytest.raises(InputError, match="widths"):
        ImageSegmenter(widths=())
    with pytest.raises(InputError, match="scale"):
        ImageSegmenter(scale=1.5)
    with pytest.raises(InputError, match="'image'"):
        model.loss({"images": good})


def test_bad_scenes_are_refused(scenes):
    model = ImageSegmenter(widths=(4,))
    no_images = LidarScenes(1, seed=0)[0]
    with pytest.raises(InputError, match=r"scenes\[0\]: expected a scene with an image"):
        SegmentationDataset([no_images])
    with pytest.raises(InputError, match="at least one scene"):
        train_segmenter(model, [], steps=1)
    with pytest.raises(InputError, match="batch_size"):
        train_segmenter(model, scenes, steps=1, batch_size=3)
    with pytest.raises(InputError, match="steps"):
        train_segmenter(model, scenes, steps=0)
    with pytest.raises(InputError, match="model"):
        train_segmenter(torch.nn.Linear(1, 1), scenes, steps=1)  # type: ignore[arg-type]
    sample = {"image": torch.rand(3, 8, 9), "semantic": torch.zeros(8, 8, dtype=torch.int64)}
    with pytest.raises(InputError, match="semantic: expected shape"):
        evaluate_segmenter(model, [sample])
    with pytest.raises(InputError, match="crop"):
        SegmentationDataset(
            [
                {"image": torch.rand(3, 8, 9), "semantic": torch.zeros(8, 9).long()},
                {"image": torch.rand(3, 8, 8), "semantic": torch.zeros(8, 8).long()},
            ],
            crop=None,
        )


def _sweep_cases():
    torch.manual_seed(0)
    model = ImageSegmenter(widths=(4, 8), num_classes=3).eval()
    images = torch.rand(2, 3, 6, 5)
    logits = torch.randn(2, 3, 6, 5)
    labels = torch.randint(0, 3, (2, 6, 5))
    cases = call_cases("ImageSegmenter", model, images, _shaped=True)
    cases += call_cases("ImageSegmenter.loss", model.loss, {"image": images, "semantic": labels})
    cases += call_cases("segmentation_focal_loss", segmentation_focal_loss, logits, labels)
    weighted = call_cases(
        "segmentation_focal_loss",
        segmentation_focal_loss,
        logits,
        labels,
        weight=torch.tensor([1.0, 2.0, 0.5]),
    )
    # weight=None is the documented default (no weights), not a bad value
    cases += [c for c in weighted if c.label != "segmentation_focal_loss weight=: None"]
    cases += call_cases("segmentation_miou", segmentation_miou, logits, labels, 3)
    cases += call_cases("segmentation_miou", segmentation_miou, labels, labels, num_classes=3)
    return cases


@pytest.mark.parametrize("case", _sweep_cases(), ids=lambda c: c.label)
def test_the_sweep_of_bad_values_gets_only_xuframe_errors(case):
    assert judge(case) is None
