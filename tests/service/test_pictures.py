"""The pictures stored with a result for a person to inspect: every sampled video frame as a small
JPEG, each face track's aligned crop; served per owner, bounded, and deleted with the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from fastapi.testclient import TestClient

from deepfake_detect.core.pictures import THUMBNAIL_MAX_SIDE
from deepfake_detect.settings import Settings
from tests.support.http import error_body, wait_for_result
from tests.support.local_api import upload


def _jpeg(client: TestClient, url: str) -> np.ndarray:
    response = client.get(url)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image)


def _scan_video(client: TestClient, video: Path) -> dict[str, Any]:
    response = client.post("/v1/detect", files={"file": ("talk.mp4", video.read_bytes(), "video/mp4")})
    assert response.status_code == 202, response.text[:300]
    final = wait_for_result(client, response.json()["id"])
    assert final["status"] == "done", final
    return final


def test_every_sampled_frame_of_a_video_has_a_thumbnail_the_boxes_map_onto(
    client: TestClient, real_video: Path
) -> None:
    result = _scan_video(client, real_video)
    frames, width, height = result["frames"], result["width"], result["height"]
    assert len(frames) == result["frames_sampled"] > 1
    for frame in frames:
        thumbnail = frame["thumbnail"]
        assert thumbnail is not None, frame
        image = _jpeg(client, f"/v1/results/{result['id']}/frames/{frame['frame_index']}.jpg")
        assert max(image.shape[:2]) <= THUMBNAIL_MAX_SIDE
        # The scale maps original pixels (the boxes) onto the thumbnail.
        assert abs(image.shape[1] - width * thumbnail["scale"]) <= 1
        assert abs(image.shape[0] - height * thumbnail["scale"]) <= 1
    # Different frames, different pictures (not the evidence frame stored 8 times).
    first = _jpeg(client, f"/v1/results/{result['id']}/frames/{frames[0]['frame_index']}.jpg")
    last = _jpeg(client, f"/v1/results/{result['id']}/frames/{frames[-1]['frame_index']}.jpg")
    assert np.abs(first.astype(int) - last.astype(int)).mean() > 1.0


def test_each_track_points_at_its_most_suspicious_face_and_its_crop_is_served(
    client: TestClient, settings: Settings, real_video: Path
) -> None:
    card = json.loads(settings.classifier_path.with_suffix(".json").read_text())
    result = _scan_video(client, real_video)
    faces = result["faces"]
    assert result["tracks"]
    for track in result["tracks"]:
        members = [f for f in faces if f["track"] == track["track"]]
        best = faces[track["face"]]
        assert best["track"] == track["track"] and best["score"] == max(f["score"] for f in members)
        assert track["crop"] is True
        crop = _jpeg(client, f"/v1/results/{result['id']}/faces/{track['track']}.jpg")
        # The classifier's input, which the face's heat map covers: its card's square size.
        assert crop.shape[:2] == (card["preprocessing"]["input_size"],) * 2 and best["heatmap"]


def test_a_photo_has_a_crop_per_face_and_no_frames(client: TestClient, couple_photo: Path) -> None:
    result = upload(client, "couple.jpg", couple_photo.read_bytes())
    assert result["frames"] == [] and len(result["tracks"]) == 2
    crops = [_jpeg(client, f"/v1/results/{result['id']}/faces/{t['track']}.jpg") for t in result["tracks"]]
    assert [t["face"] for t in result["tracks"]] == [0, 1]
    assert np.abs(crops[0].astype(int) - crops[1].astype(int)).mean() > 1.0  # two people, two crops
    missing = client.get(f"/v1/results/{result['id']}/frames/0.jpg")
    assert missing.status_code == 404 and error_body(missing)["code"] == "frame_not_found"
    missing = client.get(f"/v1/results/{result['id']}/faces/7.jpg")
    assert missing.status_code == 404 and error_body(missing)["code"] == "face_not_found"


def test_the_pictures_are_deleted_with_the_result(
    client: TestClient, settings: Settings, real_video: Path
) -> None:
    result = _scan_video(client, real_video)
    media = settings.data_dir / "media"
    stored = [p for p in media.rglob("*") if p.is_file() and result["id"] in str(p)]
    thumbnails = [p for p in stored if "frames" in p.parts]
    assert len(thumbnails) == len(result["frames"]) and any("faces" in p.parts for p in stored)
    urls = [f"/v1/results/{result['id']}/frames/{f['frame_index']}.jpg" for f in result["frames"]]
    urls += [f"/v1/results/{result['id']}/faces/{t['track']}.jpg" for t in result["tracks"]]

    assert client.delete(f"/v1/results/{result['id']}").status_code == 204
    assert [p for p in media.rglob("*") if result["id"] in str(p)] == []
    for url in urls:
        assert client.get(url).status_code == 404, url
