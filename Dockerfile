# One image for both sides of a Dataflow job: the SDK worker image (--sdk_container_image)
# and the Flex Template launcher image. Built by `./run_dataflow.sh build` (Cloud Build);
# see docs/dataflow.md. Every dependency is pinned by requirements.lock.

# The Flex Template launcher binary lives in Google's launcher base image; pinned tag from
# https://cloud.google.com/dataflow/docs/reference/flex-templates-base-images
FROM gcr.io/dataflow-templates-base/python311-template-launcher-base:20260122_RC00 AS launcher

# Beam's own worker image: Python 3.11, Beam 2.77.0 and the /opt/apache/beam/boot entrypoint workers need.
FROM apache/beam_python3.11_sdk:2.77.0

# `--build-arg DOWNLOAD_POSE_MODELS=false` skips the model download (a build that reaches a PyPI mirror only);
# complexity 0 and 2 then fail at DoFn set-up, with a message saying why.
ARG DOWNLOAD_POSE_MODELS=true

# Makes the image usable as a Flex Template: the launcher runs the pipeline's main file.
COPY --from=launcher /opt/google/dataflow/python_template_launcher /opt/google/dataflow/python_template_launcher

# The project lives where FLEX_TEMPLATE_PYTHON_PY_FILE below points.
WORKDIR /template

# Copied alone so the slow dependency layer is rebuilt only when the lock changes.
COPY requirements.lock .

# --no-deps as in the Makefile: the lock is complete, and MediaPipe 0.10.21's declared protobuf<5
# would make pip backtrack against Beam's protobuf>=5 (../shared/NOTES.md).
RUN pip install --no-cache-dir --no-deps -r requirements.lock

# Bakes the lite (complexity 0) and heavy (complexity 2) pose models into mediapipe/modules/pose_landmark/,
# where MediaPipe (and transforms.landmarks.holistic.pose_model_path) look, so workers without internet never download them.
RUN if [ "$DOWNLOAD_POSE_MODELS" = "true" ]; then python -c 'import importlib.util, os, urllib.request; folder = os.path.join(list(importlib.util.find_spec("mediapipe").submodule_search_locations)[0], "modules", "pose_landmark"); [urllib.request.urlretrieve("https://storage.googleapis.com/mediapipe-assets/" + name, os.path.join(folder, name)) for name in ("pose_landmark_lite.tflite", "pose_landmark_heavy.tflite")]'; fi

# The package definition, copied after the slow layers so code changes rebuild only what follows.
COPY setup.py .

# The options, the graph and the entry point (FLEX_TEMPLATE_PYTHON_PY_FILE).
COPY pipeline pipeline

# The DoFns and transforms the workers run.
COPY transforms transforms

# The launcher's entry file (a thin wrapper around pipeline.run).
COPY main.py .

# Installed (editable, like `make install`) so workers import pipeline/transforms without --setup_file.
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e .

# Fails the build, not a job, when a baked model is missing: the same check the DoFn runs at set-up.
RUN if [ "$DOWNLOAD_POSE_MODELS" = "true" ]; then python -c 'from transforms.landmarks.holistic import check_model_available; [check_model_available(c) for c in (0, 1, 2)]'; fi

# The Flex Template launcher runs this file with the template's parameters as --name=value flags.
ENV FLEX_TEMPLATE_PYTHON_PY_FILE="/template/main.py"

# FLEX_TEMPLATE_PYTHON_SETUP_FILE is deliberately not set (as in Google's pipeline_with_dependencies sample):
# the package is installed above, and a setup file would make every worker reinstall it at start-up.

# Beam's worker boot must stay the entrypoint for the image to serve as the SDK container.
ENTRYPOINT ["/opt/apache/beam/boot"]
