"""Peak memory of a scanning process: a fresh process loads the models and scans files one after
the other; its peak resident memory is read at the end. The bench reports it, a test asserts it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_PEAK_CHILD = """
import json, resource, sys, time
from pathlib import Path
from deepfake_detect.core.config import PipelineConfig
from deepfake_detect.core.pipeline import ScanPipeline
detector_path, classifier_path, *paths = map(Path, sys.argv[1:])
detector = ScanPipeline(PipelineConfig(detector_path=detector_path, classifier_path=classifier_path))
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
results = {}
for path in paths:
    analysis = detector.analyze(path)
    analysis.evidence  # what a store would encode
    error = analysis.result.error
    results[path.name] = error.code.value if error else analysis.result.verdict.value
    del analysis
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "vm_hwm_mb": hwm, "after_models_mb": loaded, "results": results}))
"""


def peak_rss(paths: Sequence[Path], detector_path: Path, classifier_path: Path) -> dict[str, Any]:
    """Peak resident memory (``getrusage``; ``/proc`` VmHWM beside it) of a fresh process that
    loads the models and scans ``paths`` one after the other (asking each for its evidence image,
    as a store does).

    Linux carries ``ru_maxrss`` across ``exec`` from the memory the process had before it (with
    ``vfork``, the parent's): a child started straight from a large process would report the
    parent's peak. So the child is forked by a small shell, whose own memory is all it inherits.
    """
    command = [sys.executable, "-c", _PEAK_CHILD, str(detector_path), str(classifier_path), *map(str, paths)]
    # Not the shell's last command, so the shell forks it rather than replacing itself.
    script = 'exec 3>&1; "$@"; status=$?; exit $status'
    out = subprocess.run(
        ["/bin/sh", "-c", script, "sh", *command], capture_output=True, text=True, check=True
    )
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return report
