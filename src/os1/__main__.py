from os1.cli import main

raise SystemExit(main())
