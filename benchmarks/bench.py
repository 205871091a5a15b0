"""`make bench`: what a scan costs, as medians with p95 and as ratios to a bare-bones pipeline.

Cases: 640x480 one-face photos, 12 MP phone photos (London portraits upscaled to 4032x3024 with a
little sensor noise, stored sideways with EXIF orientation 6), a 720p H.264 video and a 10-s 720p
VP8 WebM written as a stream (no duration, no seek index), the CLI over a folder of 200 mixed
images (images/s, one worker and both cores), the peak memory of a process that scans a 4K video,
decompression bombs, truncated files and large photos, and the cold start of a fresh process.

The bare-bones pipeline, timed in the same process and interleaved with ours so both see the same
machine: ``cv2.imread`` (or ``VideoCapture`` decoding on to each sample) + ``FaceDetectorYN`` on
the image reduced to 640 px + a box crop resized to the classifier's input + one ONNX Runtime run.
Timings on shared machines are noisy, so every figure is a median over repeated runs (p95 beside
it); nothing here asserts a time. The media are made on the fly, with the tests' makers
(``tests/support/hostile.py``); the peak memory is measured as its test measures it.

Run from the repository root: ``python -m benchmarks.bench`` (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from tests.support.hostile import (
    make_hostile_set,
    moving_face_frame,
    phone_photo,
    streamed_webm,
    write_frames,
)
from tests.support.media import Frame, read_bgr
from tests.support.memory import peak_rss

TARGETS = {"image_640x480_ms": 25.0, "video_720p_ms": 1500.0, "cold_start_ms": 1000.0, "peak_rss_mb": 500.0}
STAGES = ("provenance", "decode", "detect", "align", "classify", "track", "total")


# --- media (what only the bench makes; the rest is the tests') ----------------------------------


def make_vga_face(shared: Path, folder: Path) -> Path:
    """A 640x480 photo with one face, cut from a shared portrait."""
    image = cv2.imread(str(shared / "data" / "deepface_photos" / "img10.jpg"))
    if image is None:
        raise FileNotFoundError("deepface_photos/img10.jpg not found under the shared folder")
    height, width = image.shape[:2]
    crop_h = min(height, int(width * 3 / 4))
    top = max(0, (height - crop_h) // 3)
    vga = cv2.resize(image[top : top + crop_h], (640, 480), interpolation=cv2.INTER_AREA)
    path = folder / "vga_one_face.jpg"
    cv2.imwrite(str(path), vga, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def make_phone_photos(shared: Path, folder: Path, count: int) -> list[Path]:
    portraits = sorted((shared / "data" / "london").glob("*.jpg"))[:count]
    return [phone_photo(p, folder / f"phone_{i:02d}.jpg", seed=i) for i, p in enumerate(portraits)]


def make_streamed_webm(shared: Path, folder: Path, seconds: float = 10.0, fps: float = 25.0) -> Path:
    """A 720p VP8 WebM of a face sliding across, as MediaRecorder writes one (no duration)."""
    face = read_bgr(shared / "data" / "deepface_photos" / "img25.jpg")
    written = write_frames(
        folder / "written.webm",
        (moving_face_frame(face, (1280, 720), i) for i in range(int(seconds * fps))),
        fps,
        "VP80",
    )
    path = folder / "stream_720p.webm"
    path.write_bytes(streamed_webm(written.read_bytes()))
    written.unlink()
    return path


def make_folder(shared: Path, folder: Path, count: int = 200) -> list[Path]:
    """``count`` mixed images: studio portraits (1024 px), photos from the web and of public
    figures (up to 2280 px, some with many faces), a few as PNG, and one in 20 a 12 MP phone photo."""
    folder.mkdir(parents=True, exist_ok=True)
    data = shared / "data"
    sources = sorted((data / "london").glob("*.jpg"))[:90]
    sources += sorted((data / "web_photos").glob("*.jpg"))[:60]
    sources += sorted((data / "deepface_photos").glob("*.jpg"))[:40]
    paths: list[Path] = []
    phones = 0
    for i in range(count):
        source = sources[i % len(sources)]
        if i % 20 == 19:
            paths.append(phone_photo(source, folder / f"{i:03d}_phone.jpg", seed=i))
            phones += 1
        elif i % 25 == 7:
            target = folder / f"{i:03d}_{source.stem}.png"
            Image.open(source).convert("RGB").save(target, format="PNG", compress_level=1)
            paths.append(target)
        else:
            target = folder / f"{i:03d}_{source.name}"
            shutil.copyfile(source, target)
            paths.append(target)
    return paths


# --- the bare-bones pipeline ------------------------------------------------------------------


class BareBones:
    """cv2.imread + FaceDetectorYN + a box crop + ONNX Runtime: the least a scan can do."""

    def __init__(self, detector_path: Path, classifier_path: Path, input_size: int) -> None:
        import onnxruntime as ort

        from deepfake_detect.core.faces import quiet_opencv

        with quiet_opencv():
            self.net = cv2.FaceDetectorYN.create(str(detector_path), "", (640, 640), 0.6, 0.3, 5000)
        self.session = ort.InferenceSession(str(classifier_path), providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.size = input_size

    def _faces(self, image: Frame) -> int:
        height, width = image.shape[:2]
        scale = min(1.0, 640 / max(height, width))
        small = (
            image
            if scale >= 1.0
            else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        self.net.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self.net.detect(small)
        crops = []
        for row in [] if rows is None else rows:
            x, y, w, h = (max(0, int(v / scale)) for v in row[:4])
            crop = image[y : y + h, x : x + w]
            if crop.size:
                crops.append(cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA))
        if crops:
            batch = np.stack(crops)[..., ::-1].astype(np.float32).transpose(0, 3, 1, 2) / 255.0
            self.session.run(None, {self.input: np.ascontiguousarray(batch)})
        return len(crops)

    def image(self, path: Path) -> int:
        return self._faces(read_bgr(path))

    def video(self, path: Path, samples: int) -> int:
        capture = cv2.VideoCapture(str(path))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if count <= 0:  # the bare way to know a stream's length: decode it
            count = 0
            while capture.grab():
                count += 1
            capture.release()
            capture = cv2.VideoCapture(str(path))
        wanted = {int((i + 0.5) * count / samples) for i in range(min(samples, count))}
        faces = 0
        for index in range(max(wanted) + 1):
            if index in wanted:
                ok, frame = capture.read()
                if ok:
                    faces += self._faces(np.asarray(frame, np.uint8))
            elif not capture.grab():
                break
        capture.release()
        return faces


# --- measuring ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _stats(values: Sequence[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(values), 1), "p95_ms": round(percentile(values, 95), 1)}


def summarise(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for stage in STAGES:
        values = [r[stage] for r in runs if stage in r]
        if values:
            out[stage] = {**_stats(values), "runs": len(values)}
    return out


def compare(
    detector: Any, bare: BareBones, paths: list[Path], repeats: int, *, samples: int = 0
) -> dict[str, Any]:
    """Our pipeline and the bare-bones one over ``paths``, interleaved, ``repeats`` times each
    after a warm-up; wall-clock per file, the stage timings and the ratio of the medians."""
    ours: list[float] = []
    bares: list[float] = []
    stages: list[dict[str, float]] = []

    def bare_run(path: Path) -> None:
        bare.video(path, samples) if samples else bare.image(path)

    for path in paths:
        detector.analyze(path)
        bare_run(path)
    for _ in range(repeats):
        for path in paths:
            start = time.perf_counter()
            result = detector.analyze(path).result
            ours.append((time.perf_counter() - start) * 1000.0)
            if result.error is not None:
                raise RuntimeError(f"{path}: {result.error.code}: {result.error.message}")
            stages.append(result.timings_ms)
            start = time.perf_counter()
            bare_run(path)
            bares.append((time.perf_counter() - start) * 1000.0)
    ratio = statistics.median(ours) / statistics.median(bares)
    return {
        "files": len(paths),
        "runs": len(ours),
        "ours": _stats(ours),
        "bare_bones": _stats(bares),
        "ratio_to_bare_bones": round(ratio, 2),
        "stages": summarise(stages),
    }


_COLD_CHILD = """
import json, sys, time
start = time.perf_counter()
from pathlib import Path
from deepfake_detect.core.pipeline import ScanPipeline
from deepfake_detect.settings import get_settings
imported = time.perf_counter()
detector = ScanPipeline(get_settings().pipeline())
loaded = time.perf_counter()
detector.analyze(Path(sys.argv[1]))
done = time.perf_counter()
print(json.dumps({"imports_ms": (imported - start) * 1000, "models_ms": (loaded - imported) * 1000,
                  "first_scan_ms": (done - loaded) * 1000, "total_ms": (done - start) * 1000}))
"""

_HANDLER_CHILD = """
import json, os, sys, time
sys.path.insert(0, os.getcwd())
start = time.perf_counter()
from pathlib import Path
import deepfake_detect.aws.wiring as wiring
built = []
make = wiring.live_detector
wiring.live_detector = lambda settings: built.append(make(settings)) or built[-1]
import functions.detect.app  # the detect container's handler module: settings, clients, tracer, models
imported = time.perf_counter()
built[0].analyze(Path(sys.argv[1]))  # the first invocation's scan, on the detector the handler holds
done = time.perf_counter()
print(json.dumps({"handler_import_ms": (imported - start) * 1000, "first_scan_ms": (done - imported) * 1000,
                  "total_ms": (done - start) * 1000,
                  "xray_imported": "aws_xray_sdk.core" in sys.modules}))
"""


def cold_start(photo: Path, runs: int = 3) -> dict[str, Any]:
    """A fresh interpreter: imports, both models, the first scan of ``photo`` (median of runs);
    and, where the AWS extras are installed, the detect container's cold path as Lambda runs it:
    importing its handler module (``functions/detect/app.py``: settings, AWS clients, tracer,
    models), then the first scan on the detector that handler holds. Not included: what only
    the cloud has (network round trips: the model pointer's SSM read, the first S3 and DynamoDB
    calls of the first invocation)."""
    children = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-X", "frozen_modules=on", "-c", _COLD_CHILD, str(photo)],
            capture_output=True,
            text=True,
            check=True,
        )
        children.append(json.loads(out.stdout.strip().splitlines()[-1]))
    report = {key: round(statistics.median(c[key] for c in children), 1) for key in children[0]}
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "DEEPFAKE_MODE": "cloud",
    }
    # In Lambda (LAMBDA_TASK_ROOT set, template.yaml's ``Tracing: Active``) the tracer is on; outside
    # it, as in the local stack, it is off. Both are measured: the first is the Lambda cold start.
    lambda_env = {**env, "LAMBDA_TASK_ROOT": tempfile.gettempdir()}
    lambda_env.pop("POWERTOOLS_TRACE_DISABLED", None)
    for label, child_env in (("lambda_handler", lambda_env), ("local_handler", env)):
        runs_out = []
        for _ in range(runs):
            out = subprocess.run(
                [sys.executable, "-c", _HANDLER_CHILD, str(photo)],
                capture_output=True,
                text=True,
                env=child_env,
                check=False,
            )
            if out.returncode != 0:
                report[f"{label}_error"] = (
                    out.stderr.strip().splitlines()[-1][:200] if out.stderr else "failed"
                )
                break
            runs_out.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if runs_out:
            report[label] = {
                **{
                    key: round(statistics.median(r[key] for r in runs_out), 1)
                    for key in ("handler_import_ms", "first_scan_ms", "total_ms")
                },
                "xray_imported": runs_out[0]["xray_imported"],
            }
    if "lambda_handler" in report:
        report["handler_import_ms"] = report["lambda_handler"]["handler_import_ms"]
    return report


def folder_throughput(folder: Path, workers: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``deepfake-detect scan --json --workers N folder/`` in a fresh process: wall time (start-up
    included), images per second, and the results (to compare runs). A version of the CLI without
    ``--workers`` (the measurement before it) is run as it is, one file after the other."""
    base = [sys.executable, "-m", "deepfake_detect.cli", "scan", "--json", "--no-progress"]
    for command in ([*base, "--workers", str(workers), str(folder)], [*base, str(folder)]):
        start = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - start
        if "unrecognized arguments: --workers" not in out.stderr:
            break
        if workers != 1:
            return {"workers": workers, "files": 0, "seconds": 0.0, "images_per_s": 0.0, "results": []}
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return {
        "workers": workers,
        "files": len(lines),
        "seconds": round(seconds, 2),
        "images_per_s": round(len(lines) / seconds, 1),
        "results": lines,
    }


def _same_results(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    keep = ("path", "verdict", "score", "faces", "error")

    def key(r: dict[str, Any]) -> list[Any]:
        return [r.get(k) for k in keep]

    return [key(r) for r in a] == [key(r) for r in b]


def run(repeats: int, video_repeats: int, folder_images: int) -> dict[str, Any]:
    from deepfake_detect.core.pipeline import ScanPipeline
    from deepfake_detect.settings import get_settings

    settings = get_settings()
    shared = settings.shared_dir
    report: dict[str, Any] = {
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "python": sys.version.split()[0],
            "opencv": cv2.__version__,
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        detector = ScanPipeline(settings.pipeline())
        report["model"] = detector.model_info.model_dump()
        size = detector.classifier.input_size
        bare = BareBones(settings.detector_path, settings.classifier_path, size)
        vga = make_vga_face(shared, folder)
        report["image_640x480_one_face"] = compare(detector, bare, [vga], repeats)
        phones = make_phone_photos(shared, folder, 6)
        report["photo_12mp_exif"] = compare(detector, bare, phones, max(1, repeats // 10))
        samples = settings.video.sample_frames
        h264 = shared / "data" / "ffpp_c23" / "real_004.mp4"
        report["video_720p_h264"] = {"file": h264.name, "seconds": 12.4, "sampled": samples}
        report["video_720p_h264"].update(compare(detector, bare, [h264], video_repeats, samples=samples))
        webm = make_streamed_webm(shared, folder)
        report["video_720p_webm_stream_10s"] = {"sampled": samples}
        report["video_720p_webm_stream_10s"].update(
            compare(detector, bare, [webm], video_repeats, samples=samples)
        )
        del detector
        images = make_folder(shared, folder / "folder", folder_images)
        one = folder_throughput(folder / "folder", 1)
        both = folder_throughput(folder / "folder", 0)
        report["folder_200_mixed"] = {
            "files": len(images),
            "one_worker": {k: v for k, v in one.items() if k != "results"},
            "both_cores": {k: v for k, v in both.items() if k != "results"},
            "same_results_same_order": _same_results(one["results"], both["results"]),
        }
        hostile = make_hostile_set(shared, folder / "hostile")
        memory = peak_rss([*hostile.values(), h264], settings.detector_path, settings.classifier_path)
        report["peak_memory"] = memory
        report["cold_start"] = cold_start(vga)
    image_ms = report["image_640x480_one_face"]["ours"]["median_ms"]
    video_ms = report["video_720p_h264"]["ours"]["median_ms"]
    report["targets"] = {
        "image_640x480_ms": _check(image_ms, TARGETS["image_640x480_ms"]),
        "video_720p_ms": _check(video_ms, TARGETS["video_720p_ms"]),
        "cold_start_ms": _check(
            report["cold_start"].get("lambda_handler", report["cold_start"])["total_ms"],
            TARGETS["cold_start_ms"],
        ),
        "peak_rss_mb": _check(report["peak_memory"]["peak_rss_mb"], TARGETS["peak_rss_mb"]),
    }
    return report


def _check(measured: float, target: float) -> dict[str, Any]:
    return {"measured": round(measured, 1), "target": target, "met": measured <= target}


def table(report: dict[str, Any]) -> str:
    """The README's Speed table, from a report."""
    rows = [
        ("640x480 photo, one face", "image_640x480_one_face"),
        ("12 MP phone photo (4032x3024, EXIF rotated)", "photo_12mp_exif"),
        ("720p H.264 video, 12.4 s", "video_720p_h264"),
        ("720p VP8 WebM stream (no duration), 10 s", "video_720p_webm_stream_10s"),
    ]
    lines = [
        "| case | decode | detect | align | classify | ours (median / p95) | bare-bones (median) | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, key in rows:
        case = report[key]
        stages = case["stages"]

        def stage(name: str, stages: dict[str, Any] = stages) -> str:
            return f"{stages[name]['median_ms']:.1f} ms" if name in stages else "-"

        lines.append(
            f"| {name} | {stage('decode')} | {stage('detect')} | {stage('align')} | {stage('classify')} | "
            f"{case['ours']['median_ms']:.1f} / {case['ours']['p95_ms']:.1f} ms | "
            f"{case['bare_bones']['median_ms']:.1f} ms | {case['ratio_to_bare_bones']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    parser.add_argument("--repeats", type=int, default=50, help="runs of the 640x480 image (12 MP: a tenth)")
    parser.add_argument("--video-repeats", type=int, default=5, help="runs of each video")
    parser.add_argument("--folder-images", type=int, default=200, help="images in the folder case")
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = run(args.repeats, args.video_repeats, args.folder_images)
    report["bench_seconds"] = round(time.perf_counter() - start, 1)
    text = json.dumps(report, indent=2)
    print(text)
    print()
    print(table(report))
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
