from edgeseg.study.exporter_compare import main; raise SystemExit(main())  # noqa: E702, I001 - one-line entry
