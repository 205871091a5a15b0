"""core.tracking: linking faces across sampled frames, and the per-track score rule."""

from __future__ import annotations

import pytest

from deepfake_detect.core.tracking import iou, link_tracks, track_score


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_one_face_moving_slowly_keeps_its_track() -> None:
    frames = [[(100.0 + 8 * t, 50.0, 80.0, 80.0)] for t in range(10)]
    assert link_tracks(frames) == [[0]] * 10


def test_a_big_jump_between_samples_still_links_on_centre_distance() -> None:
    # Samples are far apart in time: no overlap, but the centre moved less than half a face.
    frames = [[(0.0, 0.0, 100.0, 100.0)], [(45.0, 10.0, 100.0, 100.0)]]
    assert iou(frames[0][0], frames[1][0]) < 0.45
    assert link_tracks(frames, iou_threshold=0.5) == [[0], [0]]


def test_a_face_elsewhere_starts_a_new_track() -> None:
    frames = [[(0.0, 0.0, 50.0, 50.0)], [(400.0, 300.0, 50.0, 50.0)]]
    assert link_tracks(frames) == [[0], [1]]


def test_two_faces_approaching_and_crossing_keep_their_ids() -> None:
    """Two people walk towards each other and pass: the detector lists them in either order."""
    frames = []
    for t in range(12):
        a = (50.0 + 30 * t, 100.0, 80.0, 80.0)  # left to right
        b = (450.0 - 30 * t, 110.0, 80.0, 80.0)  # right to left
        frames.append([a, b] if t % 2 else [b, a])
    ids = link_tracks(frames)
    for t, frame_ids in enumerate(ids):
        a_id, b_id = (frame_ids[0], frame_ids[1]) if t % 2 else (frame_ids[1], frame_ids[0])
        assert (a_id, b_id) == (ids[0][1], ids[0][0])
    assert {i for frame in ids for i in frame} == {0, 1}


def test_no_two_faces_of_one_frame_share_a_track() -> None:
    frames = [[(0.0, 0.0, 100.0, 100.0)], [(0.0, 0.0, 100.0, 100.0), (10.0, 10.0, 100.0, 100.0)]]
    ids = link_tracks(frames)
    assert ids[1][0] != ids[1][1]
    assert 0 in ids[1]


def test_a_face_that_leaves_and_comes_back_in_place_resumes_its_track() -> None:
    frames = [[(10.0, 10.0, 60.0, 60.0)], [], [(12.0, 10.0, 60.0, 60.0)]]
    assert link_tracks(frames) == [[0], [], [0]]


def test_empty_input() -> None:
    assert link_tracks([]) == []
    assert link_tracks([[], []]) == [[], []]


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([0.7], 0.7),
        ([0.2, 0.8], 0.8),  # top half of 2 = the highest
        ([0.1, 0.9, 0.5], (0.9 + 0.5) / 2),  # ceil(3/2) = 2 highest
        ([0.9, 0.1, 0.1, 0.1], (0.9 + 0.1) / 2),  # one noisy frame does not decide alone
        ([0.9, 0.8, 0.1, 0.1], 0.85),  # a swap that fails on some frames still shows
    ],
)
def test_track_score_is_the_mean_of_the_top_half(scores: list[float], expected: float) -> None:
    assert track_score(scores) == pytest.approx(expected)


def test_track_score_is_order_independent_and_bounded() -> None:
    scores = [0.3, 0.9, 0.4, 0.6, 0.2]
    assert track_score(scores) == track_score(sorted(scores))
    assert min(scores) <= track_score(scores) <= max(scores)


def test_track_score_needs_a_score() -> None:
    with pytest.raises(ValueError):
        track_score([])
