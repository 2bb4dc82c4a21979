"""Flex Template entry file (FLEX_TEMPLATE_PYTHON_PY_FILE): launches the job in pipeline.run.

A top-level file, as in Google's pipeline_with_dependencies sample: run as a
script, pipeline/run.py would put pipeline/ itself first on sys.path and make
its modules (options, graph, report…) importable under bare names.
"""
import sys

from pipeline.run import main

if __name__ == "__main__":
    sys.exit(main())
