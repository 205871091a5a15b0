"""``python -m training`` is ``python -m training.train``: the one entry point (laptop, GPU, SageMaker)."""

from training.train import main

raise SystemExit(main())
