"""bench/gcs_proxy.py behaves as GCS where gcp-storage-emulator does not: preconditions and listing pages."""
import pytest

from bench import gcs_proxy as proxy_module
from transforms.common import storage


def test_a_listing_comes_in_pages_of_at_most_page_size_objects(gcs_emulator, gcs_proxy, monkeypatch):
    folder = f"{gcs_emulator}/proxy-pages"
    for i in range(5):
        storage.write_bytes(f"{folder}/f{i}.txt", b"x")
    monkeypatch.setattr(proxy_module, "PAGE_SIZE", 2)
    gcs_proxy.take()
    assert sorted(storage.list_objects(folder)) == [f"f{i}.txt" for i in range(5)]
    assert gcs_proxy.take() == {"list": 3}


def test_an_upload_or_delete_whose_generation_precondition_fails_is_refused(gcs_emulator):
    from google.api_core.exceptions import PreconditionFailed

    bucket_name, _, prefix = gcs_emulator[len("gs://"):].partition("/")
    blob = storage.gcs_client().bucket(bucket_name).blob(f"{prefix}/proxy-precondition.txt".lstrip("/"))
    blob.upload_from_string(b"first", if_generation_match=0)
    first = int(blob.generation)
    with pytest.raises(PreconditionFailed):
        storage.gcs_client().bucket(bucket_name).blob(blob.name).upload_from_string(b"again", if_generation_match=0)
    blob.upload_from_string(b"second", if_generation_match=first)
    second = int(blob.generation)
    with pytest.raises(PreconditionFailed):
        blob.delete(if_generation_match=first)  # no longer the current generation
    assert blob.download_as_bytes() == b"second"
    blob.delete(if_generation_match=second)
    assert not storage.exists(f"gs://{bucket_name}/{blob.name}")
