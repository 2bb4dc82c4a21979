#!/usr/bin/env bash
# Run the GhSL preprocessing on Dataflow: build the image, build the Flex Template,
# run or launch a job, schedule the reprocessing, and show job status.
#
#   ./run_dataflow.sh [--dry-run] [settings] SUBCOMMAND [-- pipeline options]
#
# Subcommands: build, template, run, launch, schedule, status (see usage below and
# docs/dataflow.md). Settings come from flags, else GHSL_* environment variables,
# else the defaults below. --dry-run prints every command, one per line and
# shell-quoted, instead of running it; only the read-only lookup `schedule` needs
# (does the Scheduler job exist?) still runs.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: ./run_dataflow.sh [--dry-run] [settings] SUBCOMMAND [-- pipeline options]

Subcommands:
  build     Cloud Build builds Dockerfile and pushes the image to Artifact Registry
  template  build the Flex Template spec (gs://BUCKET/dataflow/templates/…) from metadata.json
  run       launch a job from this machine: python -m pipeline.run --runner=DataflowRunner …
  launch    launch a job from the Flex Template
  schedule  create or update the Cloud Scheduler job that launches the template on a cron
  status    list recent GhSL jobs and show the Scheduler job

Settings (flag / environment variable / default):
  --project            GHSL_PROJECT (or CLOUDSDK_CORE_PROJECT)   required
  --region             GHSL_REGION          us-central1
  --bucket             GHSL_BUCKET          ghsl-datasets
  --repository         GHSL_REPOSITORY      ghsl (Artifact Registry, Docker format)
  --image              GHSL_IMAGE           REGION-docker.pkg.dev/PROJECT/REPOSITORY/ghsl-preprocessing:TAG
  --tag                GHSL_IMAGE_TAG       git commit of this checkout, else latest
  --service-account    GHSL_SERVICE_ACCOUNT ghsl-dataflow@PROJECT.iam.gserviceaccount.com
  --machine-type       GHSL_MACHINE_TYPE    n2-standard-4
  --max-workers        GHSL_MAX_WORKERS     8
  --harness-threads    GHSL_HARNESS_THREADS 1 (one Holistic per SDK process; one process per vCPU)
  --network            GHSL_NETWORK         (the project's default network)
  --subnetwork         GHSL_SUBNETWORK      (regional URL; needed with a custom-mode network)
  --no-public-ips      GHSL_NO_PUBLIC_IPS   false (true needs Private Google Access on the subnet)
  --metadata-csv       GHSL_METADATA_CSV    gs://BUCKET/sample_dataset/sampled_metadata.csv
  --video-dir          GHSL_VIDEO_DIR       gs://BUCKET/sample_dataset/videos
  --output-dir         GHSL_OUTPUT_DIR      gs://BUCKET
  --job-name           GHSL_JOB_NAME        ghsl-preprocessing-YYYYMMDD-HHMMSS
  --schedule           GHSL_SCHEDULE        "0 3 * * 0" (Sundays 03:00)
  --time-zone          GHSL_TIME_ZONE       Africa/Accra
  --scheduler-job      GHSL_SCHEDULER_JOB   ghsl-preprocessing-weekly
  --python             GHSL_PYTHON          .venv/bin/python (for `run`)

Options after `--` go to the pipeline: as flags to `run`, as template parameters to
`launch` and `schedule` (e.g. -- --model_complexity=1 --min_frames=32).
EOF
}

die() {
  echo "error: $*" >&2
  exit 2
}

# --- settings ---------------------------------------------------------------

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DRY_RUN=false
PROJECT="${GHSL_PROJECT:-${CLOUDSDK_CORE_PROJECT:-}}"
REGION="${GHSL_REGION:-us-central1}"
BUCKET="${GHSL_BUCKET:-ghsl-datasets}"
REPOSITORY="${GHSL_REPOSITORY:-ghsl}"
IMAGE="${GHSL_IMAGE:-}"
IMAGE_TAG="${GHSL_IMAGE_TAG:-}"
SERVICE_ACCOUNT="${GHSL_SERVICE_ACCOUNT:-}"
MACHINE_TYPE="${GHSL_MACHINE_TYPE:-n2-standard-4}"
MAX_WORKERS="${GHSL_MAX_WORKERS:-8}"
HARNESS_THREADS="${GHSL_HARNESS_THREADS:-1}"
NETWORK="${GHSL_NETWORK:-}"
SUBNETWORK="${GHSL_SUBNETWORK:-}"
NO_PUBLIC_IPS="${GHSL_NO_PUBLIC_IPS:-false}"
METADATA_CSV="${GHSL_METADATA_CSV:-}"
VIDEO_DIR="${GHSL_VIDEO_DIR:-}"
OUTPUT_DIR="${GHSL_OUTPUT_DIR:-}"
JOB_NAME="${GHSL_JOB_NAME:-}"
SCHEDULE="${GHSL_SCHEDULE:-0 3 * * 0}"
TIME_ZONE="${GHSL_TIME_ZONE:-Africa/Accra}"
SCHEDULER_JOB="${GHSL_SCHEDULER_JOB:-ghsl-preprocessing-weekly}"
PYTHON="${GHSL_PYTHON:-$HERE/.venv/bin/python}"
SUBCOMMAND=""
PIPELINE_ARGS=()

parse_args() {
  local name value
  while (($#)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=true ;;
      --no-public-ips) NO_PUBLIC_IPS=true ;;
      --) shift; PIPELINE_ARGS=("$@"); return ;;
      --*)
        if [[ "$1" == *=* ]]; then
          name="${1%%=*}" value="${1#*=}"
        else
          (($# >= 2)) || die "$1 needs a value"
          name="$1" value="$2"
          shift
        fi
        set_setting "$name" "$value"
        ;;
      build | template | run | launch | schedule | status)
        [[ -z "$SUBCOMMAND" ]] || die "one subcommand at a time (got $SUBCOMMAND and $1)"
        SUBCOMMAND="$1"
        ;;
      *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
  done
}

set_setting() {
  case "$1" in
    --project) PROJECT="$2" ;;
    --region) REGION="$2" ;;
    --bucket) BUCKET="$2" ;;
    --repository) REPOSITORY="$2" ;;
    --image) IMAGE="$2" ;;
    --tag) IMAGE_TAG="$2" ;;
    --service-account) SERVICE_ACCOUNT="$2" ;;
    --machine-type) MACHINE_TYPE="$2" ;;
    --max-workers) MAX_WORKERS="$2" ;;
    --harness-threads) HARNESS_THREADS="$2" ;;
    --network) NETWORK="$2" ;;
    --subnetwork) SUBNETWORK="$2" ;;
    --no-public-ips) NO_PUBLIC_IPS="$2" ;;
    --metadata-csv) METADATA_CSV="$2" ;;
    --video-dir) VIDEO_DIR="$2" ;;
    --output-dir) OUTPUT_DIR="$2" ;;
    --job-name) JOB_NAME="$2" ;;
    --schedule) SCHEDULE="$2" ;;
    --time-zone) TIME_ZONE="$2" ;;
    --scheduler-job) SCHEDULER_JOB="$2" ;;
    --python) PYTHON="$2" ;;
    *) die "unknown setting: $1 (see --help)" ;;
  esac
}

# Fills in the defaults that depend on other settings.
resolve_settings() {
  [[ -n "$PROJECT" ]] || die "no project: pass --project=PROJECT_ID or set GHSL_PROJECT"
  [[ "$NO_PUBLIC_IPS" == true || "$NO_PUBLIC_IPS" == false ]] || die "--no-public-ips must be true or false"
  if [[ -z "$IMAGE_TAG" ]]; then
    IMAGE_TAG="$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo latest)"
  fi
  IMAGE="${IMAGE:-$REGION-docker.pkg.dev/$PROJECT/$REPOSITORY/ghsl-preprocessing:$IMAGE_TAG}"
  SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-ghsl-dataflow@$PROJECT.iam.gserviceaccount.com}"
  METADATA_CSV="${METADATA_CSV:-gs://$BUCKET/sample_dataset/sampled_metadata.csv}"
  VIDEO_DIR="${VIDEO_DIR:-gs://$BUCKET/sample_dataset/videos}"
  OUTPUT_DIR="${OUTPUT_DIR:-gs://$BUCKET}"
  JOB_NAME="${JOB_NAME:-ghsl-preprocessing-$(date -u +%Y%m%d-%H%M%S)}"
  TEMP_LOCATION="gs://$BUCKET/dataflow/temp"
  STAGING_LOCATION="gs://$BUCKET/dataflow/staging"
  TEMPLATE_FILE="gs://$BUCKET/dataflow/templates/ghsl-preprocessing.json"
}

# --- running or printing commands -------------------------------------------

# One argument, quoted for a POSIX shell only when it needs it.
quote() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

print_cmd() {
  local first=true arg
  for arg in "$@"; do
    $first || printf ' '
    first=false
    quote "$arg"
  done
  printf '\n'
}

run_cmd() {
  if $DRY_RUN; then
    print_cmd "$@"
  else
    "$@"
  fi
}

# Pipeline options after `--` as NAME=VALUE pairs (template parameters).
pipeline_parameters() {
  local arg
  for arg in ${PIPELINE_ARGS[@]+"${PIPELINE_ARGS[@]}"}; do
    [[ "$arg" == --*=* ]] || die "pass template parameters as --name=value (got $arg)"
    printf '%s\n' "${arg#--}"
  done
}

json_string() {
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}

# --- subcommands ------------------------------------------------------------

cmd_build() {
  run_cmd gcloud builds submit "$HERE" --project="$PROJECT" --tag="$IMAGE" --timeout=3600s
}

# Worker settings a template launch starts from (gcloud flex-template build/run flags).
flex_environment_flags() {
  FLEX_FLAGS=(--staging-location="$STAGING_LOCATION" --temp-location="$TEMP_LOCATION"
    --service-account-email="$SERVICE_ACCOUNT" --worker-machine-type="$MACHINE_TYPE"
    --max-workers="$MAX_WORKERS")
  [[ -z "$NETWORK" ]] || FLEX_FLAGS+=(--network="$NETWORK")
  [[ -z "$SUBNETWORK" ]] || FLEX_FLAGS+=(--subnetwork="$SUBNETWORK")
  if $NO_PUBLIC_IPS; then FLEX_FLAGS+=(--disable-public-ips); fi
}

cmd_template() {
  flex_environment_flags
  run_cmd gcloud dataflow flex-template build "$TEMPLATE_FILE" --project="$PROJECT" \
    --image="$IMAGE" --sdk-language=PYTHON --metadata-file="$HERE/metadata.json" "${FLEX_FLAGS[@]}"
}

cmd_run() {
  local args=(--runner=DataflowRunner --project="$PROJECT" --region="$REGION" --job_name="$JOB_NAME"
    --temp_location="$TEMP_LOCATION" --staging_location="$STAGING_LOCATION"
    --sdk_container_image="$IMAGE" --service_account_email="$SERVICE_ACCOUNT"
    --machine_type="$MACHINE_TYPE" --max_num_workers="$MAX_WORKERS"
    --number_of_worker_harness_threads="$HARNESS_THREADS"
    --metadata_csv="$METADATA_CSV" --video_dir="$VIDEO_DIR" --output_dir="$OUTPUT_DIR")
  [[ -z "$NETWORK" ]] || args+=(--network="$NETWORK")
  [[ -z "$SUBNETWORK" ]] || args+=(--subnetwork="$SUBNETWORK")
  if $NO_PUBLIC_IPS; then args+=(--no_use_public_ips); fi
  (cd "$HERE" && run_cmd "$PYTHON" -m pipeline.run "${args[@]}" ${PIPELINE_ARGS[@]+"${PIPELINE_ARGS[@]}"})
}

cmd_launch() {
  local params=(--parameters=metadata_csv="$METADATA_CSV" --parameters=video_dir="$VIDEO_DIR"
    --parameters=output_dir="$OUTPUT_DIR" --parameters=sdk_container_image="$IMAGE"
    --parameters=number_of_worker_harness_threads="$HARNESS_THREADS")
  local pair
  while IFS= read -r pair; do
    params+=(--parameters="$pair")
  done < <(pipeline_parameters)
  flex_environment_flags
  run_cmd gcloud dataflow flex-template run "$JOB_NAME" --project="$PROJECT" --region="$REGION" \
    --template-file-gcs-location="$TEMPLATE_FILE" "${FLEX_FLAGS[@]}" "${params[@]}"
}

# The projects.locations.flexTemplates.launch request body the Scheduler job sends.
launch_request_body() {
  local params env pair
  params="$(json_string metadata_csv):$(json_string "$METADATA_CSV"),$(json_string video_dir):$(json_string "$VIDEO_DIR")"
  params+=",$(json_string output_dir):$(json_string "$OUTPUT_DIR"),$(json_string sdk_container_image):$(json_string "$IMAGE")"
  params+=",$(json_string number_of_worker_harness_threads):$(json_string "$HARNESS_THREADS")"
  while IFS= read -r pair; do
    params+=",$(json_string "${pair%%=*}"):$(json_string "${pair#*=}")"
  done < <(pipeline_parameters)
  env="\"serviceAccountEmail\":$(json_string "$SERVICE_ACCOUNT"),\"machineType\":$(json_string "$MACHINE_TYPE")"
  env+=",\"maxWorkers\":$MAX_WORKERS,\"tempLocation\":$(json_string "$TEMP_LOCATION")"
  env+=",\"stagingLocation\":$(json_string "$STAGING_LOCATION")"
  [[ -z "$NETWORK" ]] || env+=",\"network\":$(json_string "$NETWORK")"
  [[ -z "$SUBNETWORK" ]] || env+=",\"subnetwork\":$(json_string "$SUBNETWORK")"
  if $NO_PUBLIC_IPS; then env+=",\"ipConfiguration\":\"WORKER_IP_PRIVATE\""; fi
  printf '{"launchParameter":{"jobName":%s,"containerSpecGcsPath":%s,"parameters":{%s},"environment":{%s}}}' \
    "$(json_string "$SCHEDULER_JOB")" "$(json_string "$TEMPLATE_FILE")" "$params" "$env"
}

cmd_schedule() {
  local verb=create
  # Read-only, so it runs under --dry-run too: it decides between create and update.
  if gcloud scheduler jobs describe "$SCHEDULER_JOB" --project="$PROJECT" --location="$REGION" >/dev/null 2>&1; then
    verb=update
  fi
  run_cmd gcloud scheduler jobs "$verb" http "$SCHEDULER_JOB" --project="$PROJECT" --location="$REGION" \
    --schedule="$SCHEDULE" --time-zone="$TIME_ZONE" \
    --uri="https://dataflow.googleapis.com/v1b3/projects/$PROJECT/locations/$REGION/flexTemplates:launch" \
    --http-method=POST --headers=Content-Type=application/json \
    --oauth-service-account-email="$SERVICE_ACCOUNT" \
    --oauth-token-scope=https://www.googleapis.com/auth/cloud-platform \
    --message-body="$(launch_request_body)"
}

cmd_status() {
  run_cmd gcloud dataflow jobs list --project="$PROJECT" --region="$REGION" --limit=10 \
    --filter=name:ghsl-preprocessing
  run_cmd gcloud scheduler jobs describe "$SCHEDULER_JOB" --project="$PROJECT" --location="$REGION" \
    || echo "No Scheduler job $SCHEDULER_JOB in $REGION yet: ./run_dataflow.sh schedule creates it."
}

main() {
  parse_args "$@"
  [[ -n "$SUBCOMMAND" ]] || { usage >&2; exit 2; }
  resolve_settings
  "cmd_$SUBCOMMAND"
}

main "$@"
