from deepfake_detect.cli import main

raise SystemExit(main())
