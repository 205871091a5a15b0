"""The `deepfake-detect scan` command, in-process through main() and once as a real process."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from deepfake_detect.cli import main
from deepfake_detect.cli.scan import credentials
from deepfake_detect.core.provenance import C2paInfo, Claim, ClaimSource, Provenance
from deepfake_detect.core.result import DetectionResult, Status, Verdict
from tests.support.cli import cli_binary
from tests.support.media import png_with_text, write_video
from tests.support.provenance import full_provenance


@pytest.fixture
def media_dir(tmp_path: Path, face_photo: Path, couple_photo: Path) -> Path:
    """A folder tree: two photos (one nested), a video without faces, and a file that is not media."""
    root = tmp_path / "inbox"
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "a_face.jpg").symlink_to(face_photo)
    (root / "nested" / "deeper" / "couple.JPG").symlink_to(couple_photo)
    write_video(root / "nested" / "blank.mp4", 12)
    (root / "notes.txt").write_text("not scanned: not a media extension")
    return root


def records(stdout: str) -> list[DetectionResult]:
    return [DetectionResult.model_validate_json(line) for line in stdout.splitlines() if line.strip()]


def test_scan_one_file_prints_a_table(
    settings_env: dict[str, str], face_photo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(face_photo)]) == 0
    out, err = capsys.readouterr()
    header, row = out.strip().splitlines()
    assert header.split()[:4] == ["verdict", "score", "detail", "credentials"]
    assert row.split()[0] in ("fake", "real") and "1 face(s)" in row and row.endswith(str(face_photo))
    assert row.split()[4] == "none"  # a plain JPEG: no metadata about its origin
    assert err == ""  # no progress bar off a terminal, no OpenCV chatter


def test_a_file_declaring_ai_shows_in_the_table_and_the_json(
    settings_env: dict[str, str], face_photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = png_with_text(face_photo, tmp_path / "generated.png")
    assert main(["scan", str(png)]) == 0
    row = capsys.readouterr().out.strip().splitlines()[1]
    assert row.split()[:2][0] == "fake" and row.split()[4:6] == ["AI:", "png_text"]
    assert "(verdict from the file's metadata: PNG text chunk 'parameters' holds generation" in row
    assert row.rstrip(")").endswith(("classifier: real", "classifier: fake"))
    assert main(["scan", "--json", str(png)]) == 0
    (record,) = records(capsys.readouterr().out)
    assert record.verdict is Verdict.FAKE and record.verdict_reason and record.score is not None
    assert record.provenance is not None and record.provenance.declared_ai


@pytest.mark.parametrize(
    ("provenance", "shown"),
    [
        (None, "-"),
        (Provenance(), "none"),
        (Provenance(claims=[Claim(source=ClaimSource.EXIF, generator="Editor")]), "no AI claim"),
        (full_provenance(), "AI: c2pa"),
        (Provenance(c2pa=C2paInfo(present=True, validated=False, error="x")), "C2PA unverified"),
        (Provenance(c2pa=C2paInfo(present=True, validated=True, signature_valid=False)), "C2PA invalid"),
        (Provenance(c2pa=C2paInfo(present=True, validated=True, signature_valid=True)), "C2PA untrusted"),
        (Provenance(c2pa=C2paInfo(present=True, validated=True, trusted=True)), "C2PA trusted"),
    ],
)
def test_the_credentials_column(provenance: Provenance | None, shown: str) -> None:
    assert credentials(provenance) == shown


def test_scan_folder_recursively_as_json(
    settings_env: dict[str, str], media_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--json", str(media_dir)]) == 0
    out, _ = capsys.readouterr()
    results = records(out)
    assert [Path(r.path).name for r in results] == ["a_face.jpg", "blank.mp4", "couple.JPG"]
    by_name = {Path(r.path).name: r for r in results}
    assert len(by_name["a_face.jpg"].faces) == 1
    assert len(by_name["couple.JPG"].faces) == 2
    assert by_name["blank.mp4"].verdict is Verdict.NO_FACE
    assert all(r.status is Status.DONE and r.model is not None for r in results)
    for line in out.splitlines():  # every line is a complete record, all fields present
        assert set(json.loads(line)) >= {"id", "path", "verdict", "score", "threshold", "faces", "error"}


def test_any_failure_makes_the_exit_status_non_zero(
    settings_env: dict[str, str], face_photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fake.jpg").write_text("a text file pretending to be a photo")
    (tmp_path / "empty.png").touch()
    missing = tmp_path / "missing.mp4"
    argv = [
        "scan",
        "--json",
        str(face_photo),
        str(tmp_path / "fake.jpg"),
        str(tmp_path / "empty.png"),
        str(missing),
    ]
    assert main(argv) == 1
    results = records(capsys.readouterr().out)
    assert [r.error.code if r.error else None for r in results] == [
        None,
        "unsupported_type",
        "empty_file",
        "not_found",
    ]
    assert all(r.verdict is Verdict.ERROR for r in results[1:])


def test_table_shows_the_error_reason(
    settings_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(tmp_path / "missing.jpg")]) == 1
    row = capsys.readouterr().out.splitlines()[1]
    assert row.startswith("error") and "not_found" in row and "no such file" in row


def test_nothing_to_scan(
    settings_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert main(["scan", str(tmp_path)]) == 2
    assert "no media files" in capsys.readouterr().err


def test_missing_model_is_one_clear_line(
    settings_env: dict[str, str],
    face_photo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from deepfake_detect.settings import get_settings

    monkeypatch.setenv("DEEPFAKE_CLASSIFIER_MODEL", "absent.onnx")
    get_settings.cache_clear()
    assert main(["scan", str(face_photo)]) == 2
    err = capsys.readouterr().err
    assert "cannot load the models" in err and "absent.onnx" in err and "Traceback" not in err


@pytest.mark.parametrize("frames", ["0", "-3", "1001", "many"])
def test_bad_frames_option_is_a_usage_error(
    settings_env: dict[str, str], face_photo: Path, frames: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", "--frames", frames, str(face_photo)])
    assert exit_info.value.code == 2


def test_frames_option_sets_the_sample_count(
    settings_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = write_video(tmp_path / "clip.mp4", 30)
    assert main(["scan", "--json", "--frames", "5", str(video)]) == 0
    (result,) = records(capsys.readouterr().out)
    assert result.frames_sampled == 5


def test_progress_bars_on_request(
    settings_env: dict[str, str], media_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--json", "--progress", str(media_dir)]) == 0
    out, err = capsys.readouterr()
    assert len(records(out)) == 3  # bars never mix into the records on stdout
    assert "3/3" in err and "file" in err  # the per-file bar
    assert "frame" in err  # the per-video frame bar


def test_no_progress_wins(
    settings_env: dict[str, str], media_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--json", "--no-progress", str(media_dir)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_real_process(settings_env: dict[str, str], face_photo: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    env = {**settings_env, "PYTHONWARNINGS": "error::RuntimeWarning"}
    ok = subprocess.run(
        [cli_binary(), "scan", "--json", str(face_photo)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    (result,) = records(ok.stdout)
    assert result.path == str(face_photo) and len(result.faces) == 1
    assert result.model is not None and result.model.name == "tiny-test-classifier"
    assert ok.stderr == ""  # in particular, no OpenCV "setPreferableTarget" warning

    failed = subprocess.run(
        [cli_binary(), "scan", str(face_photo), str(tmp_path / "bad.jpg")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert failed.returncode == 1
    assert "corrupt_media" in failed.stdout


def test_help_lists_the_commands() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPFAKE_")}
    shown = subprocess.run([cli_binary(), "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert shown.returncode == 0
    for command in ("scan", "serve", "fetch-models"):
        assert command in shown.stdout


def test_fetch_models_copies_and_verifies(
    tmp_path: Path, detector_model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from deepfake_detect.model_files import YUNET_FILE
    from deepfake_detect.settings import get_settings

    shared = tmp_path / "shared"
    (shared / "models").mkdir(parents=True)
    (shared / "models" / YUNET_FILE).symlink_to(detector_model)
    monkeypatch.setenv("DEEPFAKE_SHARED_DIR", str(shared))
    monkeypatch.setenv("DEEPFAKE_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    try:
        assert main(["fetch-models", "--no-download"]) == 0
        assert (tmp_path / "models" / YUNET_FILE).is_file()
        assert "ready" in capsys.readouterr().out

        (tmp_path / "models" / YUNET_FILE).unlink()
        (shared / "models" / YUNET_FILE).unlink()
        (shared / "models" / YUNET_FILE).write_bytes(b"tampered")
        assert main(["fetch-models", "--no-download"]) == 1
        err = capsys.readouterr().err
        assert "sha256" in err and "Traceback" not in err
    finally:
        get_settings.cache_clear()
