"""Sentence variations: the real google-genai SDK and Beam's RunInference on the DirectRunner,
against bench/gemini_server.py (the Gemini REST shape on 127.0.0.1)."""
import csv
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from google.genai import errors

from pipeline import augment_text
from pipeline.graph import build_text
from pipeline.augment_options import AugmentConfigError
from bench.gemini_server import GeminiServer
from transforms.text import sentence_variations as sv
from transforms.text.gemini_handler import GeminiUnavailable, RequestsPerMinute, retry_filter

REPO = Path(__file__).resolve().parents[1]
KEY = "AIzaSy-test-key-9f3kQ"
N = 3
COLUMNS = ["video_file", "feature_path", "num_frames", "sentence_id", "sentence", "category", "quality_flag",
           "signer"]


@pytest.fixture
def server(monkeypatch):
    with GeminiServer(keys={KEY}) as s:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", s.base_url)
        monkeypatch.setenv("GEMINI_API_KEY", KEY)
        monkeypatch.delenv("GEMINI_API_KEYS", raising=False)
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        yield s


def write_processed(proc: Path, sentences: dict, copies: int = 2) -> Path:
    """processed_metadata.csv as the main job writes it: each sentence signed `copies` times."""
    proc.mkdir(parents=True, exist_ok=True)
    path = proc / "processed_metadata.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for copy in range(copies):
            for sid, sentence in sentences.items():
                writer.writerow({"video_file": f"s{copy}/{sid}.mp4", "feature_path": f"pose_data/s{copy}/{sid}.npy",
                                 "num_frames": 60 + copy, "sentence_id": sid, "sentence": sentence,
                                 "category": "greeting, daily", "quality_flag": "", "signer": f"signer {copy}"})
    return path


SENTENCES = {str(i): f"GhSL sentence {i}, signed \"slowly\"" for i in range(7)}


def run(path: Path, *extra: str) -> dict:
    argv = [f"--variations={N}", "--sentences_per_request=3", "--request_timeout_s=5", "--max_retries=1",
            "--requests_per_minute=6000", *extra]
    return augment_text.augment(str(path), PipelineOptions(argv))


def read_csv(path: Path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def variations_by_id(path: Path) -> dict:
    return {r["sentence_id"]: json.loads(r["text_variations"]) for r in read_csv(path)}


def asked_ids(server: GeminiServer):
    return [tuple(r.sentence_ids) for r in server.requests]


def test_every_row_gets_its_sentence_first_then_distinct_variations(server, tmp_path):
    path = write_processed(tmp_path / "proc", SENTENCES)
    before = read_csv(path)

    summary = run(path)

    after = read_csv(path)
    assert [{k: v for k, v in r.items() if k != "text_variations"} for r in after] == before
    for row in after:
        variations = json.loads(row["text_variations"])
        assert variations[0] == row["sentence"]
        assert len(variations) == N + 1 and len(set(variations)) == N + 1
    # 7 distinct sentences, 3 per request: 3 requests, each sentence asked once.
    assert sorted(i for ids in asked_ids(server) for i in ids) == sorted(SENTENCES)
    assert len(server.requests) == 3 == summary["counts"]["gemini_requests"]
    assert read_csv(tmp_path / "proc" / "augment_failed.csv") == []
    cache = json.loads((tmp_path / "proc" / "sentence_variations.json").read_text())
    assert cache == variations_by_id(path)


def test_structured_output_is_requested_with_a_schema(server, tmp_path):
    run(write_processed(tmp_path / "proc", {"1": "I am hungry"}))

    config = server.requests[0].body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    items = config["responseSchema"]["properties"]["sentences"]["items"]
    assert items["properties"]["variations"]["min_items"] == N


def test_second_run_uses_the_cache_and_sends_nothing(server, tmp_path):
    path = write_processed(tmp_path / "proc", SENTENCES)
    run(path)
    first = path.read_text()
    sent = len(server.requests)

    summary = run(path)

    assert len(server.requests) == sent
    assert summary["counts"]["gemini_requests"] == 0
    assert summary["counts"]["sentences_cached"] == len(SENTENCES)
    assert path.read_text() == first


def test_a_changed_sentence_is_asked_again(server, tmp_path):
    path = write_processed(tmp_path / "proc", SENTENCES)
    run(path)
    write_processed(tmp_path / "proc", {**SENTENCES, "3": "A new sentence"})
    server.requests.clear()

    run(path)

    assert asked_ids(server) == [("3",)]
    assert variations_by_id(path)["3"][0] == "A new sentence"


def test_output_elsewhere_leaves_the_input_alone(server, tmp_path):
    path = write_processed(tmp_path / "proc", SENTENCES)
    original = path.read_text()
    out = tmp_path / "elsewhere" / "augmented.csv"

    run(path, f"--output_csv={out}")

    assert path.read_text() == original
    assert set(variations_by_id(out)) == set(SENTENCES)


def test_429_is_retried_with_the_handlers_backoff(server, tmp_path):
    server.on_sentence("0", "429", times=1)
    path = write_processed(tmp_path / "proc", SENTENCES)

    run(path)

    first = [r for r in server.requests if "0" in r.sentence_ids]
    assert [r.action for r in first] == ["429", "ok"]
    assert first[1].at - first[0].at >= 2.5  # the handler's backoff waited before the retry
    assert json.loads(read_csv(path)[0]["text_variations"])[1:]  # answered after the retry
    assert read_csv(tmp_path / "proc" / "augment_failed.csv") == []


def test_retry_filter_takes_429_5xx_and_timeouts_not_400():
    assert retry_filter(errors.ClientError(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}))
    assert retry_filter(errors.ServerError(503, {"error": {"code": 503, "status": "UNAVAILABLE"}}))
    assert retry_filter(GeminiUnavailable("ReadTimeout: timed out"))
    assert not retry_filter(errors.ClientError(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}}))


def test_429_moves_to_the_next_key_without_waiting(server, tmp_path, monkeypatch):
    server.keys = {"k1-SECRET", "k2-SECRET"}
    server.exhausted_keys.add("k1-SECRET")
    monkeypatch.setenv("GEMINI_API_KEYS", "k1-SECRET,k2-SECRET")
    path = write_processed(tmp_path / "proc", SENTENCES)

    summary = run(path)

    assert [(r.key, r.action) for r in server.requests] == [("k1-SECRET", "429")] + [("k2-SECRET", "ok")] * 3
    assert summary["counts"]["gemini_key_rotations"] == 1
    # Sent again at once with the other key: Beam's first backoff alone is at least 2.5 s.
    assert server.requests[1].at - server.requests[0].at < 1.5
    assert all(len(v) == N + 1 for v in variations_by_id(path).values())


def test_wrong_answers_are_asked_again_alone_then_reported(server, tmp_path):
    sentences = {str(i): f"Sentence {i}" for i in range(6)}
    server.on_sentence("1", "invalid_json", times=1)  # spoils the request of 0, 1, 2
    server.on_sentence("4", "wrong_ids", times=2)     # 4 answered under an invented id, twice
    path = write_processed(tmp_path / "proc", sentences)

    summary = run(path)

    asked = asked_ids(server)
    assert sorted(asked) == sorted([("0", "1", "2"), ("3", "4", "5"), ("0",), ("1",), ("2",), ("4",)])
    failed = read_csv(tmp_path / "proc" / "augment_failed.csv")
    assert [(f["sentence_id"], f["sentence"]) for f in failed] == [("4", "Sentence 4")]
    assert "no answer for this sentence_id" in failed[0]["error"]
    result = variations_by_id(path)
    assert result["4"] == ["Sentence 4"]
    assert all(len(result[i]) == N + 1 for i in "01235")
    cache = json.loads((tmp_path / "proc" / "sentence_variations.json").read_text())
    assert set(cache) == {"0", "1", "2", "3", "5"}  # a failure is never cached
    assert summary["counts"]["sentences_failed"] == 1


def test_failed_requests_are_reported_and_a_rerun_asks_only_for_them(server, tmp_path):
    server.on_sentence("4", "500", times=1)
    path = write_processed(tmp_path / "proc", SENTENCES)

    run(path, "--max_retries=0")

    failed = read_csv(tmp_path / "proc" / "augment_failed.csv")
    assert sorted(f["sentence_id"] for f in failed) == ["3", "4", "5"]
    assert all("500 INTERNAL" in f["error"] for f in failed)
    assert variations_by_id(path)["4"] == [SENTENCES["4"]]
    server.requests.clear()

    run(path)

    assert asked_ids(server) == [("3", "4", "5")]
    assert read_csv(tmp_path / "proc" / "augment_failed.csv") == []
    assert len(variations_by_id(path)["4"]) == N + 1


def test_a_hanging_server_times_out(server, tmp_path):
    server.on_sentence("6", "hang", times=5)
    path = write_processed(tmp_path / "proc", SENTENCES)

    started = time.monotonic()
    run(path, "--request_timeout_s=1", "--max_retries=0")

    assert time.monotonic() - started < 20
    failed = read_csv(tmp_path / "proc" / "augment_failed.csv")
    assert [f["sentence_id"] for f in failed] == ["6"]
    assert "timed out" in failed[0]["error"]


def test_an_interrupted_run_keeps_its_answers(server, tmp_path):
    server.hang_s = 60
    server.on_sentence("3", "hang", times=1)  # the second request never ends: the run is killed there
    path = write_processed(tmp_path / "proc", SENTENCES)
    cache = tmp_path / "proc" / "sentence_variations.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    job = subprocess.Popen(
        [sys.executable, "-m", "pipeline.augment_text", f"--input_csv={path}", f"--variations={N}",
         "--sentences_per_request=3", "--request_timeout_s=50"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any(r.action == "hang" for r in server.requests) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        job.kill()
        job.wait(timeout=10)
    assert set(json.loads(cache.read_text())) == {"0", "1", "2"}
    server.requests.clear()

    run(path)

    assert sorted(asked_ids(server)) == [("3", "4", "5"), ("6",)]
    assert all(len(v) == N + 1 for v in variations_by_id(path).values())


def test_the_key_appears_nowhere(server, tmp_path, monkeypatch, caplog, capfd):
    bad_key = "AIzaSy-invalid-SECRET-key"
    server.exhausted_keys.add(KEY)
    # The valid key is out of quota, the other is refused (400): every request fails and is logged.
    monkeypatch.setenv("GEMINI_API_KEYS", f"{KEY},{bad_key}")
    path = write_processed(tmp_path / "proc", SENTENCES)
    caplog.set_level(logging.DEBUG)

    with caplog.at_level(logging.DEBUG):
        run(path, "--max_retries=0")
        p = build_text(PipelineOptions([]), input_csv=str(path), output_csv=str(path), cache=str(tmp_path / "c.json"),
                       failed_csv=str(tmp_path / "f.csv"), run_id="x")
        graph = p.to_runner_api().SerializeToString()

    failed = read_csv(tmp_path / "proc" / "augment_failed.csv")
    assert len(failed) == len(SENTENCES)  # the errors did happen, and were reported
    captured = capfd.readouterr()
    texts = [caplog.text, captured.out, captured.err, graph.decode("latin-1")]
    texts += [f.read_text(errors="replace") for f in tmp_path.rglob("*") if f.is_file()]
    for secret in (KEY, bad_key):
        assert all(secret not in t for t in texts)
    assert any(r.key == bad_key for r in server.requests)  # it was used, not merely absent


def test_an_id_shared_by_two_sentences_is_reported_not_asked(server, tmp_path):
    path = write_processed(tmp_path / "proc", SENTENCES)
    with open(path, "a", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow(["x.mp4", "x.npy", 60, "2", "Another text", "daily", "", "signer 9"])

    run(path)

    assert all("2" not in ids for ids in asked_ids(server))
    failed = read_csv(tmp_path / "proc" / "augment_failed.csv")
    assert sorted((f["sentence_id"], f["sentence"]) for f in failed) == [("2", "Another text"), ("2", SENTENCES["2"])]
    rows = read_csv(path)
    assert [json.loads(r["text_variations"]) for r in rows if r["sentence_id"] == "2"] == [
        [SENTENCES["2"]], [SENTENCES["2"]], ["Another text"]]


def test_scrub_removes_keys_from_error_text():
    message = f"Client error '400' for url 'https://x/models/m:generateContent?key={KEY}'"
    assert KEY not in sv.scrub(message, [KEY, ""])


@pytest.mark.parametrize("columns, expected", [
    (["video_file", "sentence"], "sentence_id"),
    (["video_file", "sentence_id"], "sentence"),
])
def test_missing_columns_stop_with_exit_code_2(server, tmp_path, capsys, columns, expected):
    path = tmp_path / "proc" / "processed_metadata.csv"
    path.parent.mkdir()
    path.write_text(",".join(columns) + "\na.mp4,1\n")

    code = augment_text.main([f"--input_csv={path}"])

    assert code == 2
    assert f"no column {expected}" in capsys.readouterr().err
    assert server.requests == []


def test_no_credentials_stop_with_exit_code_2(server, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GEMINI_API_KEY")
    path = write_processed(tmp_path / "proc", SENTENCES)

    code = augment_text.main([f"--input_csv={path}"])

    err = capsys.readouterr().err
    assert code == 2 and "GEMINI_API_KEY" in err and "--vertex_project" in err
    assert server.requests == [] and "text_variations" not in path.read_text()


def test_vertex_ai_needs_no_key_and_env_keys_do_not_reach_remote_workers(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEYS", raising=False)
    augment_text.check_config(PipelineOptions(["--vertex_project=my-project"]))
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    with pytest.raises(AugmentConfigError, match="--api_key_secret"):
        augment_text.check_config(PipelineOptions(["--runner=DataflowRunner"]))


def test_requests_per_minute_blocks_the_request_over_the_limit():
    limiter = RequestsPerMinute(3, name=uuid.uuid4().hex, period_s=0.5)
    started = time.monotonic()
    for _ in range(3):
        assert limiter.allow()
    assert time.monotonic() - started < 0.1
    limiter.allow()
    assert time.monotonic() - started >= 0.45


@pytest.mark.parametrize("answer, problem", [
    ({"sentences": [{"sentence_id": "1", "variations": ["a", "b"]}]}, "2 variations instead of 3"),
    ({"sentences": [{"sentence_id": "1", "variations": ["a", "A ", "c"]}]}, "a repeated variation"),
    ({"sentences": [{"sentence_id": "1", "variations": ["a", "", "c"]}]}, "empty"),
    ({"sentences": [{"sentence_id": "1", "variations": ["Hello there", "b", "c"]}]}, "a repeated variation"),
    ({"sentences": [{"sentence_id": "9", "variations": ["a", "b", "c"]}]}, "no answer for this sentence_id"),
    ({"sentences": [{"sentence_id": "1", "variations": ["a", "b", "c"]}] * 2}, "answered twice"),
])
def test_check_answer_rejects(answer, problem):
    good, problems = sv.check_answer(json.dumps(answer), [("1", "Hello there")], 3)
    assert good == {} and problem in problems["1"]


def test_check_answer_accepts_and_puts_the_original_first():
    answer = {"sentences": [{"sentence_id": "1", "variations": [" Hi! ", "Greetings.", "Hey there"]}]}
    assert sv.check_answer(json.dumps(answer), [("1", "Hello there")], 3) == (
        {"1": ["Hello there", "Hi!", "Greetings.", "Hey there"]}, {})


def service_account_file(path: Path, token_uri: str) -> Path:
    """A service-account key whose token endpoint is the local server (google-auth honours token_uri)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "my-project", "private_key_id": "k1", "private_key": pem,
        "client_email": "augment@my-project.iam.gserviceaccount.com", "client_id": "1", "token_uri": token_uri}))
    return path


def test_vertex_ai_with_the_jobs_own_credentials(server, tmp_path, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", server.base_url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS",
                       str(service_account_file(tmp_path / "sa.json", f"{server.base_url}/token")))
    path = write_processed(tmp_path / "proc", SENTENCES)

    run(path, "--vertex_project=my-project", "--vertex_location=us-central1")

    assert server.vertex_projects == ["my-project"] * 3
    assert all(r.key.removeprefix("bearer:") in server.tokens for r in server.requests)
    assert all(len(v) == N + 1 for v in variations_by_id(path).values())


def test_main_job_with_augment_text_adds_the_column_at_its_end(server, tmp_path, sign_clips):
    from pipeline import run as run_job
    metadata = tmp_path / "m.csv"
    metadata.write_text("video_file,sentence_id,sentence,category\n"
                        "FOOTBALL.mp4,1,I play football,sport\ntest_video.mp4,2,Help me,health\n")
    out = tmp_path / "out"
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={sign_clips}", f"--output_dir={out}",
                         "--model_complexity=1", "--min_frames=20", "--direct_num_workers=1", "--augment_text",
                         f"--variations={N}", "--request_timeout_s=5", "--max_retries=1"]) == 0
    rows = read_csv(out / "proc" / "processed_metadata.csv")
    assert [r["video_file"] for r in rows] == ["FOOTBALL.mp4", "test_video.mp4"]
    for r in rows:
        variations = json.loads(r["text_variations"])
        assert variations[0] == r["sentence"] and len(variations) == N + 1
    assert len(server.requests) == 1  # both sentences in one request
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_main_job_with_augment_text_and_no_key_stops_before_any_work(tmp_path, monkeypatch, capsys, sign_clips):
    from pipeline import run as run_job
    for name in ("GEMINI_API_KEY", "GEMINI_API_KEYS", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    metadata = tmp_path / "m.csv"
    metadata.write_text("video_file,sentence_id,sentence,category\nFOOTBALL.mp4,1,Hi,sport\n")
    out = tmp_path / "out"
    assert run_job.main([f"--metadata_csv={metadata}", f"--video_dir={sign_clips}", f"--output_dir={out}",
                         "--model_complexity=1", "--augment_text"]) == 2
    assert "GEMINI_API_KEY" in capsys.readouterr().err and not out.exists()
